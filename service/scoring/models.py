"""Trained models kept in the database (``MODEL_STORE=database``): each version's artifact and
metadata, and the pointer to the active one, so replicas on different hosts serve the same
model with no shared disk. ``MODEL_DIR`` is then each replica's cache."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from service.extensions import UtcDateTime, db, utcnow


class ModelArtifact(db.Model):
    __tablename__ = "model_artifacts"

    version: Mapped[str] = mapped_column(String(40), primary_key=True)
    # The registry's metadata.json, artifact_sha256 included: checked again on every load.
    model_metadata: Mapped[dict] = mapped_column("metadata", JSON)
    artifact: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ActiveModel(db.Model):
    """One row: the active version, and a counter every activation moves on."""

    __tablename__ = "active_model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(40))
    serial: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
