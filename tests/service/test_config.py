"""Settings: a bad one stops start-up with one line that names it."""

import os
import subprocess
import sys

import pytest

from service.config import ConfigError, Settings
from tests.conftest import ROOT


@pytest.mark.parametrize("environ, name", [
    ({"APP_ENV": "production"}, "SECRET_KEY"),
    ({"APP_ENV": "staging"}, "APP_ENV"),
    ({"APP_ENV": "development", "LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ({"APP_ENV": "development", "DEFAULT_POLICY": "lenient"}, "DEFAULT_POLICY"),
    ({"APP_ENV": "development", "DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
    ({"APP_ENV": "production", "SECRET_KEY": "short"}, "SECRET_KEY"),
])
def test_invalid_settings_name_the_variable(tmp_path, environ, name):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(environ, tmp_path)


def test_defaults_suit_development(tmp_path):
    settings = Settings.from_env({"APP_ENV": "development"}, tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'moderation.db'}"
    assert settings.default_policy == "standard"
    assert settings.secret_key == Settings.from_env({"APP_ENV": "development"}, tmp_path).secret_key


def test_a_bare_postgresql_url_uses_psycopg_3(tmp_path):
    settings = Settings.from_env({"APP_ENV": "development",
                                  "DATABASE_URL": "postgresql://u@h/db"}, tmp_path)
    assert settings.database_url == "postgresql+psycopg://u@h/db"


def test_the_entry_point_prints_one_clear_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY",)}
    env.update(APP_ENV="production", INSTANCE_PATH=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        result.stderr.strip().splitlines()[0]]
    assert result.stderr.startswith("configuration error: SECRET_KEY is required")
