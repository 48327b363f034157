"""Publishing decisions back to host sites: the outbox, signed webhooks, the read API."""
