"""Score texts for a host site without storing anything (previews, backfills)."""

from dataclasses import asdict

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint

from service.api import SITE_SECURITY, require_json_body, site_required
from service.scoring.schemas import ScoreBatchIn, ScoreBatchOut, ScoreIn, ScoreWithSpansOut
from service.scoring.service import ScoringService, Thresholds

blp = Blueprint("scoring", __name__, url_prefix="/v1/score",
                description="Score texts without storing them.")
blp.before_request(require_json_body)


def scoring() -> ScoringService:
    return current_app.extensions["moderation.scoring"]


def site_thresholds() -> Thresholds:
    return Thresholds(*current_app.extensions["moderation.sites"].thresholds(g.site))


@blp.route("")
class Score(MethodView):
    decorators = [site_required]

    @blp.doc(security=SITE_SECURITY)
    @blp.arguments(ScoreIn)
    @blp.response(200, ScoreWithSpansOut)
    def post(self, payload):
        """Score one text and show which words drove each label."""
        assessment, spans = scoring().preview(payload["text"], site_thresholds())
        return {**asdict(assessment), "status": assessment.status.value, "spans": spans}


@blp.route("/batch")
class ScoreBatch(MethodView):
    decorators = [site_required]

    @blp.doc(security=SITE_SECURITY)
    @blp.arguments(ScoreBatchIn)
    @blp.response(200, ScoreBatchOut)
    def post(self, payload):
        """Score up to 500 texts, answered in the same order."""
        assessments = scoring().assess(payload["texts"], site_thresholds())
        return {"results": [{**asdict(a), "status": a.status.value} for a in assessments]}
