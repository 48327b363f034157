"""Entry point for gunicorn (``wsgi:app``) and the ``flask --app wsgi`` commands."""

import sys

from flask.cli import load_dotenv
from flask.helpers import get_load_dotenv

from service import create_app
from service.config import ConfigError

# The .env that make run writes (development settings), read here as well as by the flask
# command, whose --help builds the app before reading it. Set variables win; production has
# no such file.
if get_load_dotenv():
    load_dotenv()

try:
    app = create_app()
except ConfigError as error:
    # One clear line naming the setting, not a traceback.
    print(f"configuration error: {error}", file=sys.stderr)
    raise SystemExit(2) from None
