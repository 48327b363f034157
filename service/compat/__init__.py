"""Other services' APIs answered by this one, so a newsroom switches by changing a URL:
Google's Perspective API (``perspective.py``, with its discovery document) and OpenAI's
moderation endpoint (``openai_moderation.py``). Each maps its own names onto this service's
labels and policy; the views (``views.py``) only parse, authenticate and shape errors."""
