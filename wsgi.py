"""Entry point for gunicorn (``wsgi:app``) and the ``flask --app wsgi`` commands."""

import sys

from service import create_app
from service.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    # One clear line naming the setting, not a traceback.
    print(f"configuration error: {error}", file=sys.stderr)
    raise SystemExit(2) from None
