"""A small seed corpus and an empty model registry, so that training in a test takes seconds."""

import pytest

from service import create_app
from service.container import services
from tests.conftest import make_user, write_small_corpus


@pytest.fixture
def small_corpus(tmp_path):
    """Twenty comments from each seed file."""
    return write_small_corpus(tmp_path / "training")


@pytest.fixture
def training_config(app_config, tmp_path, small_corpus) -> dict[str, str]:
    return {**app_config, "MODEL_DIR": str(tmp_path / "models"),
            "TRAINING_DATA_DIR": str(small_corpus)}


@pytest.fixture
def cli_app(app, training_config):
    """The app with its tables (made by ``app``), a small seed corpus and an empty registry."""
    return create_app(training_config)


@pytest.fixture
def admin(cli_app):
    return make_user(cli_app, "ada", "admin")


def run_queued_job(app):
    """Run the oldest queued job here, as the worker's child process would; returns it."""
    with app.app_context():
        job = services(app).jobs.claim_next("test-worker")
        assert job is not None, "no job was queued"
        return services(app).job_executor.execute(job.id)
