"""What the lifecycle needs from other capabilities, as Protocols.

A change of status must be announced to the host site (publishing's outbox) and a person's
decision kept as a training example (retraining's example store), in the same transaction.
The app factory connects an implementation of each here, so the domain core imports neither
capability: the imports run one way, from the capabilities down to ``comments``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from service.comments.models import Comment


class Outbox(Protocol):
    def announce(self, session: Session, comment: Comment, event_type: str, now: datetime,
                 shown: dict[str, Any]) -> None:
        """Add the event that tells the host site about ``comment`` (``shown``: the comment
        as the API shows it) to the caller's transaction."""

    def withdraw(self, session: Session, comment_id: int, event_type: str) -> bool:
        """Take back the comment's newest event of this type if it has not gone out; False
        when the host site may have it already."""


class ExampleSink(Protocol):
    def keep(self, session: Session, text: str, labels: dict[str, int | None], *, source: str,
             site_id: int, article_title: str | None, parent_text: str | None) -> None:
        """Store a person's decision on ``text`` as a labeled example."""

    def forget(self, session: Session, text: str, *, source: str) -> None:
        """Drop the example an undone decision stored."""


@dataclass
class _Ports:
    outbox: Outbox | None = None
    examples: ExampleSink | None = None


_PORTS = _Ports()


def connect(*, outbox: Outbox, examples: ExampleSink) -> None:
    """Called by the app factory; both implementations are stateless (they act on the
    session they are given), so one pair serves every app in the process."""
    _PORTS.outbox, _PORTS.examples = outbox, examples


def outbox() -> Outbox:
    if _PORTS.outbox is None:
        raise RuntimeError("service.comments is not connected: create_app() connects it")
    return _PORTS.outbox


def examples() -> ExampleSink:
    if _PORTS.examples is None:
        raise RuntimeError("service.comments is not connected: create_app() connects it")
    return _PORTS.examples
