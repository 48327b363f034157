"""Models in the database (MODEL_STORE=database): two replicas with caches of their own (no
file in common) serve the same active model, a promotion reaches the other within its
refresh, and an artifact altered in the database is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from classifier import ModelRegistry, ModelRejected
from service import create_app
from service.container import services
from service.extensions import db
from service.scoring.models import ModelArtifact


@pytest.fixture
def replicas(app_config, app, tmp_path):
    """Two apps on one database, each with MODEL_STORE=database and a MODEL_DIR of its own."""
    if not app_config["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("MODEL_STORE=database is for PostgreSQL (SQLite refuses it at start)")
    made = []
    for name in ("a", "b"):
        replica = create_app({**app_config, "MODEL_STORE": "database",
                              "MODEL_DIR": str(tmp_path / f"cache-{name}")})
        services(replica).scoring.refresh_seconds = 0
        made.append(replica)
    return made


def save(replica, seed_model) -> str:
    """What a training job does: save a version (here the seed model again) and activate it."""
    with replica.app_context():
        registry = services(replica).scoring.registry
        version = registry.save(seed_model.model, {"training_data": {"source": "test"}})
        registry.activate(version)
        return version


def serving(replica) -> str:
    with replica.app_context():
        return services(replica).scoring.current().version


def test_a_replica_serves_the_version_another_saved_and_caches_it(replicas, seed_model,
                                                                  tmp_path):
    a, b = replicas
    version = save(a, seed_model)
    assert not (tmp_path / "cache-b").exists()
    assert serving(b) == version
    assert (tmp_path / "cache-b" / version / "model.joblib").exists()
    answer = b.test_client().get("/readyz")
    assert answer.status_code == 200, answer.json


def test_a_promotion_reaches_the_other_replica_at_its_next_look(replicas, seed_model):
    a, b = replicas
    first = save(a, seed_model)
    assert serving(b) == first
    second = save(a, seed_model)
    assert serving(b) == second
    with a.app_context():  # a rollback is an activation too
        services(a).scoring.registry.activate(first)
    assert serving(b) == first


def test_an_artifact_altered_in_the_database_is_refused(replicas, seed_model):
    a, b = replicas
    good = save(a, seed_model)
    assert serving(b) == good
    bad = save(a, seed_model)
    with a.app_context():
        db.session.execute(update(ModelArtifact).where(ModelArtifact.version == bad)
                           .values(artifact=b"not the model that was trained"))
        db.session.commit()
        with pytest.raises(ModelRejected, match="sha256"):
            ModelRegistry.load(services(b).scoring.registry, bad)
    assert serving(b) == good  # the replica keeps the model it trusts


def test_an_artifact_replaced_with_its_checksum_is_refused_without_the_key(replicas,
                                                                          seed_model):
    """Someone who can write to the database can replace an artifact and its sha256 both:
    the signature, made with SECRET_KEY, which the database does not hold, still fails."""
    import hashlib
    a, b = replicas
    good = save(a, seed_model)
    assert serving(b) == good
    bad = save(a, seed_model)
    forged = b"pickled code an attacker wants run"
    with a.app_context():
        record = db.session.get(ModelArtifact, bad)
        record.model_metadata = {**record.model_metadata,
                                 "artifact_sha256": hashlib.sha256(forged).hexdigest()}
        record.artifact = forged
        db.session.commit()
    assert serving(b) == good  # refused before unpickling; the trusted model stays
    with b.app_context(), pytest.raises(ModelRejected, match="not signed"):
        services(b).scoring.registry.load(bad)


def test_a_folder_of_files_moves_into_the_database(replicas, model_dir):
    a, b = replicas
    runner = a.test_cli_runner()
    moved = runner.invoke(args=["model", "import-files", str(model_dir)])
    assert moved.exit_code == 0, moved.output
    active = ModelRegistry(model_dir).active_version()
    assert f"active: {active}" in moved.output
    assert serving(b) == active
    again = runner.invoke(args=["model", "import-files", str(model_dir)])
    assert "Stored 0 version(s)" in again.output


def test_sqlite_refuses_models_in_the_database(app_config, tmp_path):
    from service.config import ConfigError
    with pytest.raises(ConfigError, match="MODEL_STORE=database needs PostgreSQL"):
        create_app({**app_config, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                    "MODEL_STORE": "database"})


def test_import_files_says_when_models_are_files_already(app, model_dir):
    result = app.test_cli_runner().invoke(args=["model", "import-files", str(model_dir)])
    assert result.exit_code != 0 and "MODEL_STORE is not database" in result.output
