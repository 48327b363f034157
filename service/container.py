"""The domain services, built once by the app factory: one typed object in place of
string look-ups, so an editor and a type checker know what ``services().review`` is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:  # the services import models and the classifier: not at start-up
    from service.accounts.services import AccountService
    from service.compat.perspective import PerspectiveService
    from service.privacy.services import PrivacyService
    from service.publishing.services import PublishingService
    from service.retraining.jobs import JobService
    from service.retraining.pipeline import JobExecutor
    from service.retraining.services import ExampleStore
    from service.retraining.shadow import ShadowService
    from service.retraining.versions import VersionService
    from service.review.dashboard import DashboardService
    from service.review.services import ReviewService
    from service.scoring.service import ScoringService
    from service.sites.services import SiteService
    from service.submission.services import SubmissionService

EXTENSION = "moderation"


@dataclass(frozen=True)
class Services:
    sites: SiteService
    scoring: ScoringService
    submissions: SubmissionService
    examples: ExampleStore
    versions: VersionService
    jobs: JobService
    shadow: ShadowService
    job_executor: JobExecutor
    accounts: AccountService
    review: ReviewService
    dashboard: DashboardService
    publishing: PublishingService
    perspective: PerspectiveService
    privacy: PrivacyService


def services(app: Flask | None = None) -> Services:
    """The services of ``app`` (the current app unless given)."""
    return (app or current_app).extensions[EXTENSION]
