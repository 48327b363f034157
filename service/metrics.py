"""Prometheus metrics at ``/metrics``: request latency, decisions, queues, webhook lag, model.

Counters and histograms are recorded as requests are served. Under gunicorn each worker is
its own process, so ``gunicorn.conf.py`` sets ``PROMETHEUS_MULTIPROC_DIR``: every worker then
writes its values to files there and a scrape, whichever worker answers it, sums them all
(prometheus_client's multiprocess mode). Without it (tests, ``flask run``) the values live in
the app's own registry.

What the database knows (queue sizes, webhook backlog) and the model the worker scores with
are read when scraped, from small tables; a database that is down never fails the scrape:
``moderation_metrics_database_up`` says 0 and the rest is reported.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Iterator
from datetime import datetime

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from service.container import services
from service.errors import Unavailable
from service.extensions import db, utcnow

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Label values come from the route table and these fixed sets only, never from the request
# as sent: a scanner trying a million paths or inventing methods adds no series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"
OUTCOMES = frozenset({"approved", "pending_review", "rejected"})
SUBMISSION_RULE = "/v1/comments"


class Metrics:
    """The app's instruments and the registry ``/metrics`` exposes.

    One per app (tests build many apps in one process; none sees another's counts).
    """

    def __init__(self, app: Flask) -> None:
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        self.registry = CollectorRegistry()
        # In multiprocess mode the values go to files, and the multiprocess collector is what
        # reads them back: registering the instruments too would count everything twice.
        own = None if self.multiprocess_dir else self.registry
        if self.multiprocess_dir:
            os.makedirs(self.multiprocess_dir, exist_ok=True)
            multiprocess.MultiProcessCollector(self.registry, path=self.multiprocess_dir)
        self.latency = Histogram(
            "moderation_http_request_duration_seconds",
            "Time to answer a request, by URL rule (not path), method and status class.",
            ["endpoint", "method", "status_class"], registry=own)
        self.decisions = Counter(
            "moderation_decisions",
            "Comments decided at submission (POST /v1/comments answered 201), by outcome and "
            "the model version that scored them.",
            ["outcome", "model_version"], registry=own)
        self.registry.register(StateCollector(app))

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The scrape body in the format the scraper asked for, and its content type."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type


class StateCollector(Collector):
    """Reads, at scrape time, what the service holds rather than counts: queue sizes,
    the webhook backlog and the model this worker scores with."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        with self.app.app_context():
            yield from self._model()
            up = GaugeMetricFamily("moderation_metrics_database_up",
                                   "1 if this scrape could read the database, else 0.")
            try:
                families = list(self._database())
            except SQLAlchemyError as error:
                # Only the driver's first line: never a statement's parameters.
                orig = getattr(error, "orig", None) or error
                log.warning("metrics: database unreadable: %r",
                            str(orig).split("\n", 1)[0][:200])
                up.add_metric([], 0)
                yield up
                return
            up.add_metric([], 1)
            yield up
            yield from families

    def _model(self) -> Iterator[Metric]:
        info = InfoMetricFamily("moderation_model",
                                "The model version this worker scores with (absent: none).",
                                labels=["version"])
        try:
            version = services(self.app).scoring.current().version
        except Unavailable:
            pass
        else:
            info.add_metric([version], {})
        yield info

    def _database(self) -> Iterator[Metric]:
        from service.comments.models import QueueCount
        from service.publishing.models import DeliveryStatus, Event
        from service.review.services import QUEUES

        # Its own short connection, so a scrape never touches a request's transaction.
        with db.engine.connect() as connection:
            by_status = dict(connection.execute(
                select(QueueCount.status, func.sum(QueueCount.count))
                .group_by(QueueCount.status)).all())
            # Only pending events are read, through the (status, next_attempt_at) index.
            pending, oldest = connection.execute(
                select(func.count(), func.min(Event.created_at))
                .where(Event.status == DeliveryStatus.PENDING.value)).one()
        queues = GaugeMetricFamily("moderation_queue_comments",
                                   "Comments in each review queue, over all sites.",
                                   labels=["queue"])
        for queue, statuses in QUEUES.items():
            queues.add_metric([queue], sum(int(by_status.get(s.value) or 0) for s in statuses))
        yield queues
        yield GaugeMetricFamily("moderation_webhook_pending_events",
                                "Webhook events waiting for delivery (first try or retry).",
                                value=pending)
        yield GaugeMetricFamily(
            "moderation_webhook_oldest_pending_age_seconds",
            "Age of the oldest webhook event still waiting for delivery; 0 when none waits.",
            value=_age_seconds(oldest))


def _age_seconds(created_at: datetime | None) -> float:
    """Seconds since ``created_at`` (UTC-aware, as UtcDateTime reads it); 0 for none."""
    if created_at is None:
        return 0.0
    return max(0.0, (utcnow() - created_at).total_seconds())


def init_app(app: Flask, token: str | None) -> None:
    """Record every request's latency and every submission's decision, and serve
    ``/metrics`` to loopback callers, or to holders of ``token`` when it is set."""
    metrics = Metrics(app)
    app.extensions["moderation.metrics"] = metrics
    app.extensions["moderation.metrics_token"] = token
    app.before_request(_start_timer)
    app.after_request(_record)
    app.register_blueprint(bp)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _record(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is None:
        return response
    metrics: Metrics = current_app.extensions["moderation.metrics"]
    rule = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    method = request.method if request.method in METHODS else "other"
    metrics.latency.labels(rule, method, f"{response.status_code // 100}xx").observe(
        time.perf_counter() - started)
    if rule == SUBMISSION_RULE and method == "POST" and response.status_code == 201:
        body = response.get_json(silent=True) or {}
        if body.get("status") in OUTCOMES:
            metrics.decisions.labels(body["status"], str(body.get("model_version"))).inc()
    return response


_PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def may_read() -> bool:
    """Whether this request may read the metrics.

    With a token configured, only ``Authorization: Bearer <token>`` does (compared in
    constant time). Without one, only a direct loopback caller: a request that came
    through a proxy (``Forwarded``, ``X-Forwarded-For`` or ``X-Real-IP``) is refused, since a
    proxy on this machine makes every outside caller look local.
    """
    token = current_app.extensions["moderation.metrics_token"]
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode())
    if any(header in request.headers for header in _PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@bp.get("/metrics")
def scrape() -> Response:
    """The metrics in Prometheus' text format; 404 to anyone not allowed to read them."""
    if not may_read():
        abort(404)
    body, content_type = current_app.extensions["moderation.metrics"].exposition(
        request.headers.get("Accept"))
    return Response(body, content_type=content_type,
                    headers={"Cache-Control": "no-store"})
