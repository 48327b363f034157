"""`flask --app wsgi data import ...` and `flask --app wsgi model
train|list|promote|rollback|shadow|import-files`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from classifier import ModelNotFound, ModelRegistry, ModelRejected
from classifier.datasets import FORMATS
from service.container import services
from service.errors import DomainError
from service.quickstart import flask_command
from service.retraining.models import JobKind, JobStatus, VersionStatus
from service.retraining.services import ExampleStore, ImportReport

data_cli = AppGroup("data", help="Import labeled comments to train on.")
model_cli = AppGroup("model", help="Train, list, promote, roll back and shadow model versions.")


def _store() -> ExampleStore:
    return services().examples


def _registry() -> ModelRegistry:
    return services().scoring.registry


@data_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True,
              help="How to read the file and map its labels.")
@click.option("--source", help="Name recorded with each example (default: FORMAT:FILENAME).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def import_data(path: Path, fmt: str, source: str | None, as_json: bool) -> None:
    """Load a labeled file into the training examples."""
    def progress(report: ImportReport) -> None:
        if report.read % 5000 == 0:
            click.echo(f"  {report.read:,} rows read...", err=True)

    try:
        report = _store().import_file(path, fmt, source=source, progress=progress)
    except (ValueError, UnicodeError, OSError) as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps(report.as_dict()))
        return
    click.echo(f"{report.source}: read {report.read:,}, accepted {report.accepted:,}, "
               f"skipped as duplicates {report.duplicates:,}, rejected {len(report.rejected):,}")
    for reason, count in report.rejected_by_reason().items():
        click.echo(f"  rejected {count:,}: {reason}")
    for line, reason in report.rejected[:10]:
        click.echo(f"  line {line}: {reason}")


@model_cli.command("train")
@click.option("--if-missing", is_flag=True, help="Only train when no usable model is active.")
@click.option("--promote/--no-promote", default=True, show_default=True,
              help="Promote the new version if it passes the gate.")
@click.option("--queue", "queue_only", is_flag=True,
              help="Queue the job for the worker instead of training here.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the new version, its status, gate and metrics as JSON.")
def train_model(if_missing: bool, promote: bool, queue_only: bool, as_json: bool) -> None:
    """Train a candidate on the example store, evaluate it beside the active model, and
    promote it when it is not worse (progress on stderr)."""
    if if_missing:
        try:
            active = _registry().load_active()
        except ModelNotFound:
            pass
        except ModelRejected as error:
            click.echo(f"The active model cannot be used ({error}); training a new one.", err=True)
        else:
            click.echo(f"Model {active.version} is active; not training.", err=as_json)
            return
    jobs = services().jobs
    try:
        job = jobs.enqueue(JobKind.TRAIN, requested_by="cli", params={"promote": promote},
                           status=JobStatus.QUEUED if queue_only else JobStatus.RUNNING)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    if queue_only:
        click.echo(json.dumps({"job_id": job.id}) if as_json
                   else f"Queued training job {job.id}; the worker will run it.")
        return
    job = services().job_executor.execute(job.id, echo=lambda line: click.echo(line, err=True))
    if job.status != JobStatus.SUCCEEDED.value:
        raise click.ClickException(f"training job {job.id} {job.status}: {job.error or ''}")
    result = job.result
    if as_json:
        click.echo(json.dumps({**result, "job_id": job.id,
                               "active": result["status"] == VersionStatus.ACTIVE.value}))
        return
    any_label = result["metrics"]["any"]
    click.echo(f"Model {result['version']} is {result['status']} "
               f"(evaluation ROC-AUC {any_label.get('roc_auc', 'n/a')} on "
               f"{result['eval_rows']:,} held-out examples).")
    for reason in result["gate"]["reasons"]:
        click.echo(f"  gate: {reason}")


@model_cli.command("run-job", hidden=True)
@click.argument("job_id", type=int)
def run_job(job_id: int) -> None:
    """Run a job the worker claimed (the worker starts this in a process of its own)."""
    job = services().job_executor.execute(job_id)
    if job.status == JobStatus.FAILED.value:
        raise SystemExit(1)


@model_cli.command("import-files")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def import_files(folder: Path) -> None:
    """Store the versions saved in FOLDER (a MODEL_DIR of files) in the database, and its
    active version if the database has none: the move to MODEL_STORE=database."""
    from service.scoring.database_registry import DatabaseRegistry
    registry = _registry()
    if not isinstance(registry, DatabaseRegistry):
        raise click.ClickException("MODEL_STORE is not database: models already live in "
                                   "MODEL_DIR's files")
    stored = registry.import_files(ModelRegistry(folder))
    click.echo(f"Stored {len(stored)} version(s) in the database; active: "
               f"{registry.active_version() or 'none'}.")


@model_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def list_models(as_json: bool) -> None:
    """List every trained version, newest first, with its status."""
    versions = services().versions.list()
    if as_json:
        click.echo(json.dumps(versions))
        return
    if not versions:
        click.echo(f"No models yet: {flask_command()} model train")
    for record in versions:
        marker = "*" if record["active"] else " "
        auc = record["metrics"].get("any", {}).get("roc_auc", "n/a")
        click.echo(f"{marker} {record['version']}  {record['status']:<11}  "
                   f"rows={record['train_rows']}  roc_auc={auc}  sklearn={record['sklearn_version']}")


@model_cli.command("promote")
@click.argument("version")
@click.option("--reason", help="Why, when promoting a version the gate held back (audited).")
@click.option("--rescore-pending", is_flag=True,
              help="Then score the pending queue again with it.")
def promote_model(version: str, reason: str | None, rescore_pending: bool) -> None:
    """Make VERSION the model every replica scores with (within seconds, no restart)."""
    try:
        entry = services().versions.promote(version, actor="cli", reason=reason)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Model {version} is active (was {entry.previous_version or 'none'}).")
    if rescore_pending:
        _rescore_here()


@model_cli.command("rollback")
@click.option("--reason", help="Why (kept in the model audit log).")
def rollback_model(reason: str | None) -> None:
    """Go back to the version that was active before the current one was promoted."""
    try:
        entry = services().versions.rollback(actor="cli", reason=reason)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Model {entry.version} is active again (was {entry.previous_version}).")


@model_cli.command("shadow")
@click.argument("version", required=False)
@click.option("--stop", is_flag=True, help="Stop the shadow run in progress.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def shadow(version: str | None, stop: bool, as_json: bool) -> None:
    """Shadow VERSION on live comments (the worker scores them), stop, or show the report."""
    service = services().shadow
    try:
        if version:
            service.start(version, actor="cli")
            click.echo(f"Model {version} now scores new comments in the shadow of the active one.")
            return
        if stop:
            service.stop(actor="cli")
        report = service.report()
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps(report))
        return
    agreement = "n/a" if report["agreement"] is None else f"{report['agreement']:.1%}"
    click.echo(f"Shadow run {report['run_id']} of {report['version']}"
               f"{' (stopped)' if report['stopped_at'] else ''}: {report['scored']:,} comments "
               f"scored, decisions agree on {agreement}.")


def _rescore_here() -> None:
    jobs = services().jobs
    try:
        job = jobs.enqueue(JobKind.RESCORE, requested_by="cli", status=JobStatus.RUNNING)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    job = services().job_executor.execute(job.id, echo=lambda line: click.echo(line, err=True))
    if job.status != JobStatus.SUCCEEDED.value:
        raise click.ClickException(f"rescoring job {job.id} {job.status}: {job.error or ''}")
    click.echo("Pending queue rescored: " + ", ".join(f"{k} {v}" for k, v in job.result.items()))

