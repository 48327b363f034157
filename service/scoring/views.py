"""Score texts for a host site without storing anything (previews, backfills)."""

from dataclasses import asdict

from flask import g
from flask.views import MethodView

from classifier.policy import Policy
from service.api import SITE_SECURITY, SiteBlueprint
from service.container import services
from service.scoring.schemas import ScoreBatchIn, ScoreBatchOut, ScoreIn, ScoreWithSpansOut
from service.scoring.service import ScoringService

blp = SiteBlueprint("scoring", __name__, url_prefix="/v1/score",
                description="Score texts without storing them.")


def scoring() -> ScoringService:
    return services().scoring


def site_policy() -> Policy:
    return services().sites.policy(g.site)


@blp.route("")
class Score(MethodView):
    @blp.doc(security=SITE_SECURITY)
    @blp.arguments(ScoreIn)
    @blp.response(200, ScoreWithSpansOut)
    def post(self, payload):
        """Score one text and show which words drove each label."""
        assessment, spans = scoring().preview(payload["text"], site_policy())
        return {**asdict(assessment), "spans": spans}


@blp.route("/batch")
class ScoreBatch(MethodView):
    @blp.doc(security=SITE_SECURITY)
    @blp.arguments(ScoreBatchIn)
    @blp.response(200, ScoreBatchOut)
    def post(self, payload):
        """Score up to 500 texts (a body of up to 1 MB), answered in the same order; with
        `"spans": true`, each with the words that drove it."""
        if not payload["spans"]:
            return {"results": scoring().assess(payload["texts"], site_policy())}
        assessments, spans = scoring().explained(scoring().current(), payload["texts"],
                                                 site_policy())
        return {"results": [{**asdict(a), "spans": s} for a, s in zip(assessments, spans)]}
