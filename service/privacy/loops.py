"""Privacy's background loop: erase refused comments past RETAIN_REJECTED_DAYS."""

from __future__ import annotations

import logging
import threading

from service.container import services
from service.extensions import db
from service.worker import Loop, WorkerOptions

log = logging.getLogger(__name__)


def purge_retention(stop: threading.Event, options: WorkerOptions | None = None,
                    interval: float = 3600.0) -> None:
    """Erase refused comments past RETAIN_REJECTED_DAYS now, then hourly: at most an hour
    late, and cheap when nothing is due. A failure is logged and tried next hour."""
    privacy = services().privacy
    if not privacy.retain_rejected_days:
        return
    while not stop.is_set():
        try:
            privacy.purge(should_stop=stop.is_set)
        except Exception:
            log.exception("retention purge failed; trying again in an hour")
            db.session.rollback()
        if stop.wait(interval):
            return


RETENTION = Loop("retention", "refused comments erased after RETAIN_REJECTED_DAYS",
                 purge_retention)
