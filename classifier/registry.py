"""A directory of trained models, each with the metadata needed to trust it before loading.

Layout::

    <root>/<version>/model.joblib     the fitted CommentClassifier
    <root>/<version>/metadata.json    version, sha256 of the artifact, library versions, metrics
    <root>/ACTIVE                     the version the service scores with

joblib files run code when loaded. The registry therefore loads only an artifact whose
sha256 matches the metadata written when this registry saved it, and only under the
scikit-learn version that trained it; everything else is refused before unpickling. A
model whose features were defined otherwise (``FEATURES_VERSION``) is refused too: it would
load, and score every text a little off.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import platform
import re
import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier.shared import FEATURES_VERSION, Classifier

if TYPE_CHECKING:  # loaded with the first model: scikit-learn takes a second to import
    from classifier.model import CommentClassifier

ARTIFACT = "model.joblib"
METADATA = "metadata.json"
ACTIVE = "ACTIVE"
_VERSION = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}")


def valid_version(version: str) -> bool:
    """Whether ``version`` is a version id this registry gives out (safe as a folder name)."""
    return bool(_VERSION.fullmatch(version))


class ModelRejected(Exception):
    """An artifact failed its integrity or compatibility check and was not loaded."""


class ModelNotFound(LookupError):
    """No such version, or no active version."""


@dataclass(frozen=True)
class LoadedModel:
    version: str
    model: Classifier  # a CommentClassifier; the service uses only what the Protocol names
    metadata: dict[str, Any]


class ModelRegistry:
    """Save, list, activate and safely load trained models under ``root``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def save(self, model: "CommentClassifier", metadata: dict[str, Any]) -> str:
        """Write ``model`` and its metadata under a new version id and return the id.

        The artifact is written to a temporary directory and renamed into place, so a crash
        never leaves a half-written version behind.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        now = datetime.now(timezone.utc)
        version = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        artifact = staging / ARTIFACT
        import joblib
        joblib.dump(model, artifact, compress=3)
        record = {
            **metadata,
            "version": version,
            "created_at": now.isoformat(timespec="microseconds"),
            "sklearn_version": _sklearn_version(),
            "features_version": FEATURES_VERSION,
            "python_version": platform.python_version(),
            "labels": list(model.labels_),
            "artifact_sha256": _sha256(artifact),
            "artifact_bytes": artifact.stat().st_size,
        }
        (staging / METADATA).write_text(json.dumps(record, indent=2, sort_keys=True))
        os.rename(staging, self.root / version)
        return version

    def versions(self) -> list[dict[str, Any]]:
        """Metadata of every saved version, newest first, each with ``active`` set."""
        active = self.active_version()
        records = []
        for path in self.root.glob(f"*/{METADATA}") if self.root.exists() else ():
            if _VERSION.fullmatch(path.parent.name):
                record = json.loads(path.read_text())
                record["active"] = record.get("version") == active
                records.append(record)
        return sorted(records, key=lambda r: r["created_at"], reverse=True)

    def metadata(self, version: str) -> dict[str, Any]:
        path = self._version_dir(version) / METADATA
        if not path.exists():
            raise ModelNotFound(f"no model version {version!r}")
        return json.loads(path.read_text())

    def activate(self, version: str) -> None:
        """Make ``version`` the one the service scores with (an atomic file replace)."""
        self.metadata(version)
        pointer = self.root / f".{ACTIVE}.{secrets.token_hex(4)}"
        pointer.write_text(version + "\n")
        os.replace(pointer, self.root / ACTIVE)

    def active_version(self) -> str | None:
        try:
            version = (self.root / ACTIVE).read_text().strip()
        except FileNotFoundError:
            return None
        return version if _VERSION.fullmatch(version) else None

    def active_marker(self) -> float | None:
        """A cheap value that changes whenever another version is activated."""
        try:
            return (self.root / ACTIVE).stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def load(self, version: str) -> LoadedModel:
        """Load ``version`` after checking its sha256 and scikit-learn version."""
        metadata = self.metadata(version)
        if metadata.get("sklearn_version") != _sklearn_version():
            raise ModelRejected(
                f"model {version} was trained with scikit-learn {metadata.get('sklearn_version')}"
                f", this is {_sklearn_version()}: retrain it (flask --app wsgi model train)")
        if features_version_of(metadata) != FEATURES_VERSION:
            raise ModelRejected(
                f"model {version} was trained on features of definition "
                f"{features_version_of(metadata)}, this code scores with definition "
                f"{FEATURES_VERSION}: retrain it (flask --app wsgi model train)")
        artifact = self._version_dir(version) / ARTIFACT
        expected = str(metadata.get("artifact_sha256", ""))
        if not artifact.exists() or not hmac.compare_digest(_sha256(artifact), expected):
            raise ModelRejected(f"model {version}: artifact sha256 does not match its metadata")
        import joblib

        from classifier.model import CommentClassifier
        model = joblib.load(artifact)
        if not isinstance(model, CommentClassifier):
            raise ModelRejected(f"model {version}: artifact is not a CommentClassifier")
        return LoadedModel(version=version, model=model, metadata=metadata)

    def load_active(self) -> LoadedModel:
        version = self.active_version()
        if version is None:
            raise ModelNotFound(f"no active model in {self.root}")
        return self.load(version)

    def _version_dir(self, version: str) -> Path:
        # The version becomes a path: refuse anything but our own id format.
        if not _VERSION.fullmatch(version):
            raise ModelNotFound(f"{version!r} is not a model version id")
        return self.root / version


def features_version_of(metadata: dict[str, Any]) -> int:
    """The definition of features a saved model was trained on (``FEATURES_VERSION``);
    models saved before it was recorded had the first."""
    return int(metadata.get("features_version", 1))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sklearn_version() -> str:
    return package_version("scikit-learn")
