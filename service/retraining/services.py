"""The example store: the seed corpus, imports and moderators' decisions in one table, split
once into training and evaluation rows; admins browse and correct it."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from classifier import LABELS, Corpus, example_weights, normalize
from classifier.datasets import MAX_TEXT, MAX_TITLE, LabeledRow, RejectedRow, Row, read_dataset
from classifier.shared import harmful_truth
from service.errors import InvalidInput, NotFound
from service.extensions import contains, dialect_of, utcnow
from service.retraining.models import TrainingExample

BATCH = 500
SEED_SOURCE = "seed"
"""The source of the rows of training_data/ (the seed corpus)."""
# The evaluation set: this share of the examples, stratified, at most this many rows.
EVALUATION_SHARE = 0.2
MAX_EVALUATION_ROWS = 10_000


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
                                             article_title=row.article_title,
                                             parent_text=row.parent_text, **row.labels))
            report.accepted += 1
        self.session.flush()

    def sync_seed(self, seed: Corpus) -> int:
        """Add the seed corpus's texts that the store lacks; returns how many were added.

        A stored text keeps its labels: a moderator's decision or an admin's correction
        outranks what the seed files say."""
        fresh: dict[str, int] = {}
        for index, text in enumerate(seed.texts):
            fresh.setdefault(text_key(text), index)
        keys = list(fresh)
        known: set[str] = set()
        for start in range(0, len(keys), BATCH):
            known.update(self.session.scalars(select(TrainingExample.text_key).where(
                TrainingExample.text_key.in_(keys[start:start + BATCH]))))
        now = utcnow()
        rows = [{"text": seed.texts[i], "text_key": key, "source": SEED_SOURCE, "excluded": False,
                 "holdout": False, "created_at": now, "updated_at": now,
                 **_labels_of(seed.y[i])} for key, i in fresh.items() if key not in known]
        for start in range(0, len(rows), BATCH):
            self.session.execute(insert(TrainingExample), rows[start:start + BATCH])
        self.session.commit()
        return len(rows)

    def real_counts(self) -> dict[str, int]:
        """Real examples (moderators' decisions and imports, not the seed corpus) the next
        training would learn from: all of them, and those no model has learned yet."""
        where = [TrainingExample.excluded.is_(False), TrainingExample.holdout.is_(False),
                 TrainingExample.source != SEED_SOURCE]
        total, new = self.session.execute(
            select(func.count(), func.count().filter(TrainingExample.trained_in.is_(None)))
            .where(*where)).one()
        decisions = self.session.scalar(select(func.count()).where(
            *where, _from_decisions()))
        return {"real": int(total), "new": int(new), "decisions": int(decisions or 0)}

    def extend_evaluation_set(self, *, share: float = EVALUATION_SHARE,
                              random_state: int = 0) -> int:
        """Hold a stratified ``share`` of examples out of training, for good; returns how many.

        The first time, of every example: the frozen evaluation set. After that, of the
        moderators' decisions that no model has trained on, so the set keeps up with the
        site's own standards without ever measuring a model on what it learned."""
        frozen = self.session.scalar(select(TrainingExample.id).where(
            TrainingExample.holdout.is_(True)).limit(1)) is not None
        where = [TrainingExample.excluded.is_(False), TrainingExample.holdout.is_(False)]
        if frozen:
            where += [_from_decisions(),
                      TrainingExample.trained_in.is_(None)]
        rows = self.session.execute(select(TrainingExample.id, *_label_columns())
                                    .where(*where).order_by(TrainingExample.id)).all()
        if not rows:
            return 0
        y = _label_matrix(rows)
        chosen = stratified_sample(np.array([r[0] for r in rows]), harmful_truth(y), share,
                                   limit=MAX_EVALUATION_ROWS if not frozen else None,
                                   random_state=random_state)
        for start in range(0, len(chosen), BATCH):
            self.session.execute(update(TrainingExample)
                                 .where(TrainingExample.id.in_(chosen[start:start + BATCH]))
                                 .values(holdout=True)
                                 .execution_options(synchronize_session=False))
        self.session.commit()
        return len(chosen)

    def training_set(self) -> tuple[list[int], Corpus, np.ndarray]:
        """Every example neither excluded nor held out, their ids, and each one's weight
        (the seed corpus's written examples count less beside real comments: see
        :func:`classifier.example_weights`)."""
        ids, _, sources, corpus = self._read(holdout=False)
        return ids, corpus, example_weights([source == SEED_SOURCE for source in sources])

    def evaluation_set(self) -> tuple[list[int | None], list[str], Corpus]:
        """The held-out examples, with the site each came from (None for seed and imports)
        and each one's source (``seed``, ``import:...``, ``moderation:...``)."""
        _, sites, sources, corpus = self._read(holdout=True)
        return sites, sources, corpus

    def corpus(self) -> Corpus:
        """Every example not excluded, held out or not, as a corpus."""
        return self._read(holdout=None)[3]

    def _read(self, *, holdout: bool | None
              ) -> tuple[list[int], list[int | None], list[str], Corpus]:
        where = [TrainingExample.excluded.is_(False)]
        if holdout is not None:
            where.append(TrainingExample.holdout.is_(holdout))
        rows = self.session.execute(
            select(TrainingExample.id, *_label_columns(), TrainingExample.source,
                   TrainingExample.text, TrainingExample.site_id)
            .where(*where).order_by(TrainingExample.id)).all()
        corpus = Corpus(texts=[row[-2] for row in rows], y=_label_matrix(rows))
        return ([row[0] for row in rows], [row[-1] for row in rows], [row[-3] for row in rows],
                corpus)

    def new_decisions(self) -> Corpus:
        """Sites' verdicts (moderators' decisions, Perspective suggestions) the next training
        learns and no model has learned yet."""
        rows = self.session.execute(
            select(TrainingExample.id, *_label_columns(), TrainingExample.text)
            .where(TrainingExample.excluded.is_(False), TrainingExample.holdout.is_(False),
                   TrainingExample.trained_in.is_(None),
                   _from_decisions())
            .order_by(TrainingExample.id)).all()
        return Corpus(texts=[row[-1] for row in rows], y=_label_matrix(rows))

    def mark_trained(self, ids: Sequence[int], version: str) -> None:
        """Record that ``version`` learned these texts (unless an earlier one did): they may
        never join the evaluation set."""
        for start in range(0, len(ids), BATCH):
            self.session.execute(update(TrainingExample)
                                 .where(TrainingExample.id.in_(ids[start:start + BATCH]),
                                        TrainingExample.trained_in.is_(None))
                                 .values(trained_in=version)
                                 .execution_options(synchronize_session=False))
        self.session.commit()

    # -- browsing and correcting ------------------------------------------------------------

    def browse(self, query: ExampleQuery) -> ExamplePage:
        """A page of examples, newest first, filtered by source, label, text and set."""
        statement = select(TrainingExample).order_by(TrainingExample.id.desc())
        if query.source:
            statement = statement.where(TrainingExample.source == query.source)
        if query.label in LABELS:
            statement = statement.where(getattr(TrainingExample, query.label) == 1)
        elif query.label == "none":
            statement = statement.where(*(getattr(TrainingExample, label).is_distinct_from(1)
                                          for label in LABELS))
        if query.search:
            statement = statement.where(contains(TrainingExample.text, query.search))
        if query.subset == "excluded":
            statement = statement.where(TrainingExample.excluded.is_(True))
        elif query.subset == "evaluation":
            statement = statement.where(TrainingExample.holdout.is_(True),
                                        TrainingExample.excluded.is_(False))
        elif query.subset == "training":
            statement = statement.where(TrainingExample.holdout.is_(False),
                                        TrainingExample.excluded.is_(False))
        if query.before_id:
            statement = statement.where(TrainingExample.id < query.before_id)
        rows = list(self.session.scalars(statement.limit(query.limit + 1)))
        more = len(rows) > query.limit
        rows = rows[:query.limit]
        return ExamplePage(rows, rows[-1].id if more else None)

    def sources(self) -> list[str]:
        return list(self.session.scalars(select(TrainingExample.source).distinct()
                                         .order_by(TrainingExample.source)))

    def get(self, example_id: int) -> TrainingExample:
        example = self.session.get(TrainingExample, example_id)
        if example is None:
            raise NotFound(f"no training example {example_id}")
        return example

    def correct(self, example_id: int, labels: dict[str, int], *, user_id: int,
                username: str) -> TrainingExample:
        """Set every label of an example, as an admin judged it: a human decision, which the
        next training job learns (or, in the evaluation set, measures against)."""
        if set(labels) != set(LABELS) or not set(labels.values()) <= {0, 1}:
            raise InvalidInput({"labels": [f"give 0 or 1 for each of {', '.join(LABELS)}"]})
        example = self.get(example_id)
        for label, value in labels.items():
            setattr(example, label, value)
        example.source = f"correction:{username}"[:200]
        example.corrected_by_id = user_id
        example.updated_at = utcnow()
        self.session.commit()
        return example

    def set_excluded(self, example_id: int, excluded: bool) -> TrainingExample:
        """Leave an example out of training and evaluation (or take it back)."""
        example = self.get(example_id)
        example.excluded = excluded
        example.updated_at = utcnow()
        self.session.commit()
        return example


SUBSETS = ("all", "training", "evaluation", "excluded")


@dataclass(frozen=True)
class ExampleQuery:
    source: str | None = None
    label: str | None = None  # a label, "none" (no label set), or None for any
    search: str | None = None
    subset: str = "all"
    before_id: int | None = None
    limit: int = 50


@dataclass(frozen=True)
class ExamplePage:
    examples: list[TrainingExample]
    next_before_id: int | None


def stratified_sample(ids: np.ndarray, strata: np.ndarray, share: float, *,
                      limit: int | None = None, random_state: int = 0) -> list[int]:
    """``share`` of ``ids`` from each stratum (at most ``limit`` in all), at random."""
    if limit is not None and share * len(ids) > limit:
        share = limit / len(ids)
    rng = np.random.default_rng(random_state)
    chosen: list[int] = []
    for stratum in np.unique(strata):
        members = ids[strata == stratum]
        take = int(round(share * len(members)))
        chosen.extend(int(i) for i in rng.permutation(members)[:take])
    return sorted(chosen)


def _label_columns():
    return [getattr(TrainingExample, label) for label in LABELS]


def _label_matrix(rows) -> np.ndarray:
    """Label columns 1..len(LABELS) of ``rows`` as a matrix, -1 where unknown."""
    return np.array([[-1 if v is None else v for v in row[1:1 + len(LABELS)]] for row in rows],
                    dtype=np.int8).reshape(-1, len(LABELS))


def _labels_of(row: np.ndarray) -> dict[str, int | None]:
    return {label: (None if v < 0 else int(v)) for label, v in zip(LABELS, row.tolist())}


DECISION_SOURCES = ("moderation:%", "perspective:%")
"""Sources of a site's verdicts: moderators' decisions, and suggestions sent through the
Perspective API (``suggestscore``)."""


def _from_decisions():
    return or_(*(TrainingExample.source.like(pattern) for pattern in DECISION_SOURCES))


def upsert_example(session: Session, text: str, labels: dict[str, int | None], *,
                   source: str, site_id: int | None = None, article_title: str | None = None,
                   parent_text: str | None = None, client_token: str | None = None) -> None:
    """Store ``text`` with ``labels``, replacing the labels of an example with the same text:
    a moderator's decision is the publisher's own policy, and outranks an imported label.
    A label the decision does not speak to (None) keeps its stored value; a decision that
    speaks to no label at all stores nothing. ``article_title`` and ``parent_text`` are what
    the text answered; they replace the stored context with the source, since they belong
    to the decision (and erasure finds a parent's text by the site that stored it).
    ``client_token`` is the site's own id for the text (Perspective's suggestscore)."""
    known = {label: value for label, value in labels.items() if value is not None}
    if not known:
        return
    now = utcnow()
    context = {"article_title": article_title[:MAX_TITLE] if article_title else None,
               "parent_text": parent_text[:MAX_TEXT] if parent_text else None}
    statement = dialect_of(session).insert(TrainingExample).values(
        text=text, text_key=text_key(text), source=source, site_id=site_id, excluded=False,
        holdout=False, created_at=now, updated_at=now, client_token=client_token, **context,
        **labels)
    # The next training job learns the new labels (or, in the evaluation set, measures every
    # model against them). An admin's exclusion stands; so does ``trained_in``: a text a model
    # learned may never join the evaluation set, whatever its labels become.
    session.execute(statement.on_conflict_do_update(
        index_elements=["text_key"], set_={"source": source, "site_id": site_id,
                                           "updated_at": now, "client_token": client_token,
                                           **context, **known}))


def withdraw_example(session: Session, text: str, *, source: str) -> None:
    """Forget the example an undone decision stored: the row for ``text`` from ``source``,
    unless a model has learned it already (what was learned stays recorded)."""
    session.execute(delete(TrainingExample).where(
        TrainingExample.text_key == text_key(text), TrainingExample.source == source,
        TrainingExample.trained_in.is_(None)).execution_options(synchronize_session=False))


def _batches(rows: Iterable[Row], size: int) -> Iterable[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class DecisionExamples:
    """:class:`service.comments.ports.ExampleSink`: moderators' decisions kept as examples."""

    def keep(self, session: Session, text: str, labels: dict[str, int | None], *, source: str,
             site_id: int, article_title: str | None, parent_text: str | None) -> None:
        upsert_example(session, text, labels, source=source, site_id=site_id,
                       article_title=article_title, parent_text=parent_text)

    def forget(self, session: Session, text: str, *, source: str) -> None:
        withdraw_example(session, text, source=source)
