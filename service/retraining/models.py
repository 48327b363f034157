"""Labeled examples the classifier learns from, besides the seed corpus in training_data/."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from classifier import LABELS
from service.comments.models import BigId
from service.extensions import UtcDateTime, db, utcnow


class TrainingExample(db.Model):
    """One labeled text. A label column is 1, 0, or NULL when the source does not say."""

    __tablename__ = "training_examples"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    # sha256 of the normalised text: the same comment, however disguised, is one example.
    text_key: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(200), index=True)
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    toxicity: Mapped[int | None] = mapped_column(SmallInteger)
    severe_toxicity: Mapped[int | None] = mapped_column(SmallInteger)
    insult: Mapped[int | None] = mapped_column(SmallInteger)
    threat: Mapped[int | None] = mapped_column(SmallInteger)
    identity_attack: Mapped[int | None] = mapped_column(SmallInteger)
    obscene: Mapped[int | None] = mapped_column(SmallInteger)
    spam: Mapped[int | None] = mapped_column(SmallInteger)

    def labels(self) -> dict[str, int | None]:
        return {label: getattr(self, label) for label in LABELS}
