import json

import pytest

from classifier import ModelNotFound, ModelRegistry, ModelRejected, features


@pytest.fixture
def registry(tmp_path, seed_model):
    registry = ModelRegistry(tmp_path / "models")
    version = registry.save(seed_model.model, {"training_data": {"rows": 1}})
    registry.activate(version)
    return registry


def test_saved_model_loads_with_its_metadata(registry, seed_model):
    loaded = registry.load_active()
    meta = loaded.metadata
    assert loaded.version == registry.active_version() == meta["version"]
    assert len(meta["artifact_sha256"]) == 64
    assert meta["labels"] == list(seed_model.model.labels_)
    assert loaded.model.predict_scores(["hello"])[0].score == seed_model.model.predict_scores(["hello"])[0].score
    assert [v["version"] for v in registry.versions() if v["active"]] == [loaded.version]


def test_a_tampered_artifact_is_refused_before_it_is_loaded(registry):
    version = registry.active_version()
    artifact = registry.root / version / "model.joblib"
    artifact.write_bytes(artifact.read_bytes() + b"\x00")
    with pytest.raises(ModelRejected, match="sha256"):
        registry.load(version)


def test_a_replaced_artifact_is_refused(registry, tmp_path):
    version = registry.active_version()
    (registry.root / version / "model.joblib").write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    with pytest.raises(ModelRejected):
        registry.load(version)


def test_a_model_from_another_scikit_learn_version_is_refused(registry):
    version = registry.active_version()
    path = registry.root / version / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata["sklearn_version"] = "0.24.2"
    path.write_text(json.dumps(metadata))
    with pytest.raises(ModelRejected, match="scikit-learn 0.24.2"):
        registry.load(version)


@pytest.mark.parametrize("recorded", [None, 1])
def test_a_model_trained_on_other_features_is_refused(registry, recorded):
    # None: saved before the definition was recorded, which was the first.
    version = registry.active_version()
    path = registry.root / version / "metadata.json"
    metadata = json.loads(path.read_text())
    assert metadata["features_version"] == features.FEATURES_VERSION
    if recorded is None:
        del metadata["features_version"]
    else:
        metadata["features_version"] = recorded
    path.write_text(json.dumps(metadata))
    with pytest.raises(ModelRejected, match="features of definition 1.*retrain"):
        registry.load(version)


@pytest.mark.parametrize("version", ["../../etc", "latest", "20260101T000000Z-zzzzzz"])
def test_unknown_or_malformed_versions_are_not_found(registry, version):
    with pytest.raises(ModelNotFound):
        registry.load(version)


def test_no_active_model_is_reported(tmp_path):
    registry = ModelRegistry(tmp_path / "empty")
    assert registry.active_version() is None
    assert registry.versions() == []
    with pytest.raises(ModelNotFound):
        registry.load_active()
