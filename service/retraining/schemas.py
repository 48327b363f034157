"""What the admin API takes and answers."""

import marshmallow as ma
from marshmallow import validate

from classifier import LABELS
from classifier.policy import POLICY_KEYS, PRESETS
from service.api import CleanString
from service.retraining.services import SUBSETS
from service.retraining.versions import MAX_REASON


class TrainIn(ma.Schema):
    promote = ma.fields.Boolean(load_default=True, metadata={
        "description": "Promote the new version if it passes the gate."})
    rescore_pending = ma.fields.Boolean(load_default=False, metadata={
        "description": "After promoting it, score the pending queue again with it."})


class JobOut(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"description": "`train` or `rescore`."})
    status = ma.fields.String(metadata={
        "description": "queued, running, succeeded, failed or cancelled."})
    stage = ma.fields.String()
    progress = ma.fields.Float(metadata={"description": "0 to 1."})
    params = ma.fields.Dict()
    requested_by = ma.fields.String()
    cancel_requested = ma.fields.Boolean()
    model_version = ma.fields.String(allow_none=True)
    result = ma.fields.Dict(allow_none=True)
    error = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)


class JobListOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(JobOut))


class VersionOut(ma.Schema):
    version = ma.fields.String()
    created_at = ma.fields.String()
    status = ma.fields.String(metadata={
        "description": "active, candidate (passed the gate), held (the gate held it back), "
                       "retired or rolled_back."})
    active = ma.fields.Boolean()
    train_rows = ma.fields.Integer(allow_none=True)
    eval_rows = ma.fields.Integer(allow_none=True)
    gate = ma.fields.Dict(allow_none=True)
    metrics = ma.fields.Dict()
    sklearn_version = ma.fields.String(allow_none=True)
    features_version = ma.fields.Integer(metadata={
        "description": "The definition of its features (normalisation and n-grams) it was "
                       "trained on; one other than this service's cannot be loaded or "
                       "promoted: train a new version."})
    artifact_sha256 = ma.fields.String(allow_none=True)


class VersionListOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(VersionOut))


class VersionReportOut(ma.Schema):
    version = ma.fields.String()
    status = ma.fields.String()
    active = ma.fields.Boolean()
    metadata = ma.fields.Dict()
    report = ma.fields.Dict(allow_none=True, metadata={
        "description": "Its evaluation: per label, decisions against human truth, "
                       "calibration."})
    baseline_version = ma.fields.String(allow_none=True)
    baseline_report = ma.fields.Dict(allow_none=True, metadata={
        "description": "The model active at the time, on the same evaluation set."})
    gate = ma.fields.Dict(allow_none=True)


class PromoteIn(ma.Schema):
    reason = CleanString(validate=validate.Length(1, MAX_REASON), metadata={
        "description": "Required when the gate held the version back; audited."})
    rescore_pending = ma.fields.Boolean(load_default=False)


class RollbackIn(ma.Schema):
    reason = CleanString(validate=validate.Length(1, MAX_REASON))


class ModelActionOut(ma.Schema):
    action = ma.fields.String()
    version = ma.fields.String(allow_none=True, metadata={"description": "Active now."})
    previous_version = ma.fields.String(allow_none=True)
    actor = ma.fields.String()
    reason = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    rescore_job_id = ma.fields.Integer(allow_none=True)


class ShadowIn(ma.Schema):
    version = CleanString(required=True, validate=validate.Length(1, 40))


class ExampleArgs(ma.Schema):
    source = CleanString(validate=validate.Length(1, 200))
    label = ma.fields.String(validate=validate.OneOf([*LABELS, "none"]))
    q = CleanString(validate=validate.Length(1, 200))
    subset = ma.fields.String(load_default="all", validate=validate.OneOf(SUBSETS))
    before_id = ma.fields.Integer(validate=validate.Range(1, 2**62))
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(1, 500))


class ExampleOut(ma.Schema):
    id = ma.fields.Integer()
    text = ma.fields.String()
    article_title = ma.fields.String(allow_none=True, metadata={
        "description": "The title of the article the text was written under, when known."})
    parent_text = ma.fields.String(allow_none=True, metadata={
        "description": "The text of the comment it replied to, when known (null once that "
                       "comment is erased)."})
    source = ma.fields.String()
    labels = ma.fields.Function(lambda example: example.labels())
    excluded = ma.fields.Boolean()
    holdout = ma.fields.Boolean(metadata={"description": "In the evaluation set."})
    trained_in = ma.fields.String(allow_none=True)
    site_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime(metadata={"description": "When it arrived."})
    updated_at = ma.fields.DateTime(allow_none=True)


class ExamplePageOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ExampleOut))
    next_before_id = ma.fields.Integer(allow_none=True)


LabelsIn = ma.Schema.from_dict(
    {label: ma.fields.Integer(required=True, strict=True, validate=validate.OneOf([0, 1]))
     for label in LABELS}, name="LabelsIn")


class ExamplePatchIn(ma.Schema):
    # A schema rather than a dict, so the document names every key (and no other).
    labels = ma.fields.Nested(LabelsIn, metadata={
        "description": "Every label, 0 or 1: the corrected truth."})
    excluded = ma.fields.Boolean()


class TargetsIn(ma.Schema):
    min_rejected_precision = ma.fields.Float(load_default=0.97, validate=validate.Range(0, 1),
                                             metadata={"description": "Auto-rejected comments "
                                                                      "truly harmful, at least."})
    max_approved_harmful = ma.fields.Float(load_default=0.01, validate=validate.Range(0, 1),
                                           metadata={"description": "Share of auto-approved "
                                                                    "comments that are harmful, "
                                                                    "at most."})


class ThresholdsIn(ma.Schema):
    approve_below = ma.fields.Float(required=True, validate=validate.Range(0, 1), metadata={
        "description": "At most `reject_at`."})
    reject_at = ma.fields.Float(required=True, validate=validate.Range(0, 1))


class RuleSchema(ma.Schema):
    hold_at = ma.fields.Float(load_default=None, allow_none=True, validate=validate.Range(0, 1),
                              metadata={"description": "Hold for review from this probability; "
                                                       "null: never."})
    reject_at = ma.fields.Float(load_default=None, allow_none=True,
                                validate=validate.Range(0, 1),
                                metadata={"description": "Reject from this probability; null: "
                                                         "never. At least `hold_at`."})

    @ma.validates_schema
    def _ordered(self, data, **kwargs):
        hold, reject = data.get("hold_at"), data.get("reject_at")
        if hold is not None and reject is not None and hold > reject:
            raise ma.ValidationError(f"must not exceed reject_at ({reject})", "hold_at")


class PolicyIn(ma.Schema):
    preset = ma.fields.String(validate=validate.OneOf(list(PRESETS)), metadata={
        "description": "Start from this preset (and drop the site's own rules)."})
    rules = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.OneOf(list(POLICY_KEYS))),
        values=ma.fields.Nested(RuleSchema, allow_none=True),
        metadata={"description": "Rules to replace, by label (`any`: the combined score); "
                                 "null goes back to the preset's rule."})


class PolicyOut(ma.Schema):
    preset = ma.fields.String()
    rules = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(RuleSchema))
    overrides = ma.fields.List(ma.fields.String(), metadata={
        "description": "The labels whose rule the site changed from its preset's."})
