"""The example store: import labeled files into it, read it back as a training corpus."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from classifier import LABELS, Corpus, normalize
from classifier.datasets import LabeledRow, RejectedRow, Row, read_dataset
from service.extensions import dialect_of, utcnow
from service.retraining.models import TrainingExample

BATCH = 500


def text_key(text: str) -> str:
    return hashlib.sha256(normalize(text).encode()).hexdigest()


@dataclass
class ImportReport:
    """What an import did with each row of the file."""

    source: str
    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def rejected_by_reason(self) -> dict[str, int]:
        return dict(Counter(reason for _, reason in self.rejected).most_common())

    def as_dict(self, max_rejected: int = 50) -> dict:
        return {"source": self.source, "read": self.read, "accepted": self.accepted,
                "duplicates": self.duplicates, "rejected": len(self.rejected),
                "rejected_by_reason": self.rejected_by_reason(),
                "rejected_rows": [{"line": line, "reason": reason}
                                  for line, reason in self.rejected[:max_rejected]]}


class ExampleStore:
    """Labeled examples in the database, one per normalised text."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def import_file(self, path: Path, fmt: str, *, source: str | None = None,
                    progress: Callable[[ImportReport], None] = lambda report: None) -> ImportReport:
        """Import every usable row of ``path``; report the others. All or nothing: the rows
        are committed together at the end, so a crash leaves no half-import behind."""
        report = ImportReport(source=source or f"{fmt}:{Path(path).name}")
        rows = read_dataset(path, fmt)
        try:
            for batch in _batches(rows, BATCH):
                self._import_batch(batch, report)
                progress(report)
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise
        return report

    def _import_batch(self, batch: list[Row], report: ImportReport) -> None:
        fresh: dict[str, LabeledRow] = {}
        for row in batch:
            report.read += 1
            if isinstance(row, RejectedRow):
                report.rejected.append((row.line, row.reason))
                continue
            key = text_key(row.text)
            if key in fresh:
                report.duplicates += 1
            else:
                fresh[key] = row
        if not fresh:
            return
        known = set(self.session.scalars(
            select(TrainingExample.text_key).where(TrainingExample.text_key.in_(fresh))))
        for key, row in fresh.items():
            if key in known:
                report.duplicates += 1
                continue
            self.session.add(TrainingExample(text=row.text, text_key=key, source=report.source,
                                             **row.labels))
            report.accepted += 1
        self.session.flush()

    def corpus(self) -> Corpus:
        """Every example not excluded, as a corpus (-1 where a label is unknown)."""
        columns = [getattr(TrainingExample, label) for label in LABELS]
        rows = self.session.execute(
            select(TrainingExample.text, *columns).where(TrainingExample.excluded.is_(False))
            .order_by(TrainingExample.id)).all()
        y = np.array([[-1 if v is None else v for v in row[1:]] for row in rows],
                     dtype=np.int8).reshape(-1, len(LABELS))
        return Corpus(texts=[row[0] for row in rows], y=y)


def upsert_example(session: Session, text: str, labels: dict[str, int | None], *,
                   source: str) -> None:
    """Store ``text`` with ``labels``, replacing the labels of an example with the same text:
    a moderator's decision is the publisher's own policy, and outranks an imported label.
    A label the decision does not speak to (None) keeps its stored value; a decision that
    speaks to no label at all stores nothing."""
    known = {label: value for label, value in labels.items() if value is not None}
    if not known:
        return
    statement = dialect_of(session).insert(TrainingExample).values(
        text=text, text_key=text_key(text), source=source, excluded=False, created_at=utcnow(),
        **labels)
    session.execute(statement.on_conflict_do_update(
        index_elements=["text_key"], set_={"source": source, "excluded": False, **known}))


def _batches(rows: Iterable[Row], size: int) -> Iterable[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
