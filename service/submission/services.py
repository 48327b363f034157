"""Accept a comment from a host site: check it, score it, decide, store it exactly once."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.comments.lifecycle import LIKELY_HARMFUL, record_submission
from service.comments.models import Article, Author, AuthorStandard, Comment, CommentStatus
from service.comments.payload import comment_payload
from service.errors import Conflict, InvalidInput, NotFound
from service.extensions import dialect_of, utcnow
from service.scoring.service import Assessment, ScoringService
from service.sites.models import Site
from service.sites.services import SiteService


def content_hash(payload: dict[str, Any]) -> str:
    """A digest of everything submitted except ``client_id``: what a replay must repeat."""
    content = {key: value for key, value in payload.items() if key != "client_id"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def likely_label(scores: dict[str, float]) -> str | None:
    """The label the comment most likely deserves, if it more likely does than not."""
    label = max(scores, key=scores.get, default=None)
    return label if label is not None and scores[label] >= LIKELY_HARMFUL else None


def apply_standing(assessment: Assessment,
                   standing: AuthorStandard) -> tuple[CommentStatus, list[dict]]:
    """The decision once the author's standing is applied, and the reasons for it.

    A banned author's comments are rejected and a suspended author's held for review,
    whatever they score; a trusted author's are published unless a rule rejects them.
    """
    status, reasons = assessment.status, list(assessment.reasons)
    action = {AuthorStandard.BANNED: "reject", AuthorStandard.SUSPENDED: "hold"}.get(
        standing, "publish")
    rule = {"label": "author", "score": None, "action": action, "threshold": standing.value,
            "value": None}
    if standing is AuthorStandard.BANNED:
        return CommentStatus.REJECTED, [rule, *reasons]
    if standing is AuthorStandard.SUSPENDED and status is CommentStatus.APPROVED:
        return CommentStatus.PENDING_REVIEW, [rule, *reasons]
    if standing is AuthorStandard.TRUSTED and status is CommentStatus.PENDING_REVIEW:
        return CommentStatus.APPROVED, [rule, *reasons]
    return status, reasons


class SubmissionService:
    """Takes a validated submission to a stored, decided comment."""

    def __init__(self, session: Session, scoring: ScoringService, sites: SiteService) -> None:
        self.session = session
        self.scoring = scoring
        self.sites = sites

    def submit(self, site: Site, payload: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Store and decide a new comment; returns it as the API shows it and whether it was
        created.

        A repeat of an earlier submission (same ``client_id``, same content) returns the
        stored comment unchanged; the same ``client_id`` with other content is a conflict.
        """
        digest = content_hash(payload)
        client_id = payload.get("client_id")
        if client_id is not None:
            existing = self._by_client_id(site, client_id)
            if existing is not None:
                return comment_payload(self._replay(existing, digest)), False
        article = self._open_article(site, payload["article_id"])
        parent_id = payload.get("parent_id")
        if parent_id is not None:
            self._check_parent(site, parent_id, payload["article_id"])

        # Score before writing anything, so no database lock is held while the model runs.
        assessment = self.scoring.assess([payload["text"]], self.sites.policy(site))[0]

        article = self._upsert(Article, site, payload["article_id"], article,
                               url=payload.get("article_url"), title=payload.get("article_title"))
        author = self._upsert(Author, site, payload["author"]["id"], None,
                              name=payload["author"].get("name"))
        status, reasons = apply_standing(assessment, author.standing_now(utcnow()))
        comment = Comment(
            site_id=site.id, article_id=article.id, author_id=author.id, parent_id=parent_id,
            client_id=client_id, content_hash=digest, text=payload["text"],
            score=assessment.score, scores=assessment.scores, reasons=reasons,
            top_label=likely_label(assessment.scores),
            model_version=assessment.model_version, language=assessment.language)
        try:
            shown = record_submission(self.session, comment, status,
                                      reason=reasons[0]["label"] if reasons else None)
            self.session.commit()
        except IntegrityError:
            # Another request with the same client_id won the race: answer as a replay.
            self.session.rollback()
            existing = self._by_client_id(site, client_id) if client_id is not None else None
            if existing is None:
                raise
            return comment_payload(self._replay(existing, digest)), False
        return shown, True

    def get(self, site: Site, comment_id: int) -> Comment:
        """The site's comment ``comment_id``; another site's comment does not exist for it."""
        if not 0 < comment_id < 2**63:
            raise NotFound(f"no comment {comment_id}")
        comment = self.session.scalar(
            select(Comment).where(Comment.id == comment_id, Comment.site_id == site.id))
        if comment is None:
            raise NotFound(f"no comment {comment_id}")
        return comment

    def _by_client_id(self, site: Site, client_id: str) -> Comment | None:
        return self.session.scalar(
            select(Comment).where(Comment.site_id == site.id, Comment.client_id == client_id))

    @staticmethod
    def _replay(existing: Comment, digest: str) -> Comment:
        if existing.content_hash != digest:
            raise Conflict(f"client_id {existing.client_id!r} was already used for a different "
                           f"comment ({existing.id})")
        return existing

    def _open_article(self, site: Site, article_external_id: str) -> Article | None:
        """The site's article, None if it is new; a closed article takes no new comment:
        :class:`Conflict`, saying since when."""
        article = self.session.scalar(select(Article).where(
            Article.site_id == site.id, Article.external_id == article_external_id))
        since = article.closed_since(site.auto_close_days) if article is not None else None
        if since is not None:
            raise Conflict(f"article {article_external_id!r} is closed to new comments "
                           f"(since {since:%Y-%m-%d %H:%M} UTC)")
        return article

    def _check_parent(self, site: Site, parent_id: int, article_external_id: str) -> None:
        parent_article = self.session.scalar(
            select(Article.external_id).join(Comment, Comment.article_id == Article.id)
            .where(Comment.id == parent_id, Comment.site_id == site.id))
        if parent_article is None:
            raise InvalidInput({"parent_id": [f"no comment {parent_id} on this site"]})
        if parent_article != article_external_id:
            raise InvalidInput({"parent_id": [f"comment {parent_id} belongs to another article"]})

    def _upsert(self, model: type[Article] | type[Author], site: Site, external_id: str,
                row: Article | Author | None, **values: str | None) -> Any:
        """Find the site's row with ``external_id`` (``row`` when the caller has just read
        it) or create it; fill in values given.

        ``INSERT ... ON CONFLICT DO NOTHING`` makes two first comments on a new article,
        arriving at once, create one article rather than fail.
        """
        where = (model.site_id == site.id, model.external_id == external_id)
        if row is None:
            row = self.session.scalar(select(model).where(*where))
        if row is None:
            self.session.execute(
                dialect_of(self.session).insert(model)
                .values(site_id=site.id, external_id=external_id, **values)
                .on_conflict_do_nothing(index_elements=["site_id", "external_id"]))
            return self.session.scalar(select(model).where(*where))
        for key, value in values.items():
            if value is not None and getattr(row, key) != value:
                setattr(row, key, value)
        return row
