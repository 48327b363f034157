"""The model registry kept in the database, with ``MODEL_DIR`` as a local cache.

A replica asks the database which version is active (one small query every
``ScoringService.refresh_seconds``), fetches a version it has not cached into ``MODEL_DIR``
(a staging folder renamed into place), and loads it through the file registry's own checks:
the sha256 recorded when it was trained, the scikit-learn version, the features' definition.
So a promotion or rollback reaches every replica within a few seconds, whatever host it runs
on, and no two replicas share a file.

Each call uses a connection of its own from the engine, never the caller's session: a
request's transaction must not see, hold or roll back the registry's writes.

The sha256 in a version's metadata comes from the same row as its artifact, so on its own it
proves nothing against someone who can write to the database; unpickling runs code. Each
artifact is therefore also signed (HMAC-SHA256) with the deployment's ``SECRET_KEY``, which
the database does not hold, and a fetched artifact must carry a valid signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import tempfile
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select, update

from classifier.registry import (
    ARTIFACT,
    METADATA,
    LoadedModel,
    ModelNotFound,
    ModelRegistry,
    ModelRejected,
    valid_version,
)
from service.extensions import utcnow
from service.scoring.models import ActiveModel, ModelArtifact

if TYPE_CHECKING:
    from classifier.model import CommentClassifier

_POINTER = 1  # the id of the active model's one row


class DatabaseRegistry(ModelRegistry):
    """:class:`ModelRegistry` with the versions and the active pointer in the database."""

    def __init__(self, root, engine: Engine, signing_key: bytes) -> None:
        super().__init__(root)
        self.engine = engine
        self.signing_key = signing_key

    def save(self, model: "CommentClassifier", metadata: dict[str, Any]) -> str:
        """Save into the cache as the file registry does, then store the version."""
        version = super().save(model, metadata)
        self._store(version, self.root / version)
        return version

    def _store(self, version: str, folder) -> None:
        artifact = (folder / ARTIFACT).read_bytes()
        record = {key: value for key, value in json.loads((folder / METADATA).read_text())
                  .items() if key != "active"}
        record["artifact_hmac"] = self._sign(artifact)
        with self.engine.begin() as connection:
            connection.execute(ModelArtifact.__table__.insert().values(
                version=version, metadata=record, artifact=artifact, created_at=utcnow()))

    def _sign(self, artifact: bytes) -> str:
        return hmac.new(self.signing_key, artifact, hashlib.sha256).hexdigest()

    def versions(self) -> list[dict[str, Any]]:
        active = self.active_version()
        with self.engine.connect() as connection:
            records = [dict(row[0]) for row in connection.execute(
                select(ModelArtifact.model_metadata))]
        for record in records:
            record["active"] = record.get("version") == active
        return sorted(records, key=lambda r: r["created_at"], reverse=True)

    def metadata(self, version: str) -> dict[str, Any]:
        with self.engine.connect() as connection:
            record = connection.scalar(select(ModelArtifact.model_metadata)
                                       .where(ModelArtifact.version == version))
        if record is None:
            raise ModelNotFound(f"no model version {version!r}")
        return dict(record)

    def activate(self, version: str) -> None:
        self.metadata(version)
        values = {"version": version, "changed_at": utcnow()}
        with self.engine.begin() as connection:
            moved = connection.execute(update(ActiveModel).where(ActiveModel.id == _POINTER)
                                       .values(serial=ActiveModel.serial + 1, **values))
            if moved.rowcount == 0:  # the first activation (promotions hold a lock)
                connection.execute(ActiveModel.__table__.insert().values(
                    id=_POINTER, serial=1, **values))

    def active_version(self) -> str | None:
        with self.engine.connect() as connection:
            version = connection.scalar(select(ActiveModel.version)
                                        .where(ActiveModel.id == _POINTER))
        return version if version and valid_version(version) else None

    def active_marker(self) -> tuple[str, int] | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(ActiveModel.version, ActiveModel.serial)
                                     .where(ActiveModel.id == _POINTER)).first()
        return tuple(row) if row else None

    def load(self, version: str) -> LoadedModel:
        """Fetch ``version`` into the cache unless it is there, then load it from there with
        every check of the file registry (its metadata comes from the database too)."""
        folder = self._version_dir(version)
        if not (folder / ARTIFACT).exists() or not (folder / METADATA).exists():
            self._fetch(version)
        return super().load(version)

    def _fetch(self, version: str) -> None:
        with self.engine.connect() as connection:
            row = connection.execute(select(ModelArtifact.model_metadata,
                                            ModelArtifact.artifact)
                                     .where(ModelArtifact.version == version)).first()
        if row is None:
            raise ModelNotFound(f"no model version {version!r}")
        metadata, artifact = row
        if not hmac.compare_digest(self._sign(artifact), str(metadata.get("artifact_hmac", ""))):
            raise ModelRejected(f"model {version}: the artifact in the database is not signed "
                                "with this deployment's SECRET_KEY; not loaded")
        self.root.mkdir(parents=True, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".fetching-", dir=self.root)
        try:
            with open(os.path.join(staging, ARTIFACT), "wb") as handle:
                handle.write(artifact)
            with open(os.path.join(staging, METADATA), "w") as handle:
                json.dump(metadata, handle, indent=2, sort_keys=True)
            try:
                os.rename(staging, self._version_dir(version))
            except OSError:  # another process of this replica fetched it meanwhile
                if not (self._version_dir(version) / ARTIFACT).exists():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def import_files(self, source: ModelRegistry) -> list[str]:
        """Store the versions saved in ``source`` (a MODEL_DIR of files) that the database
        lacks, and its active pointer when the database has none: the move from files to
        the database. Returns the versions stored."""
        stored = []
        known = {record["version"] for record in self.versions()}
        for record in reversed(source.versions()):
            version = record["version"]
            if version in known:
                continue
            self._store(version, source.root / version)
            stored.append(version)
        if self.active_version() is None and source.active_version() is not None:
            self.activate(source.active_version())
        return stored
