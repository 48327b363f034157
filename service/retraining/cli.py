"""`flask --app wsgi data import ...` and `flask --app wsgi model train|list`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from classifier import ModelNotFound, ModelRegistry, ModelRejected, seed_corpus, train_and_save
from classifier.datasets import FORMATS
from service.retraining.services import ExampleStore, ImportReport

data_cli = AppGroup("data", help="Import labeled comments to train on.")
model_cli = AppGroup("model", help="Train the classifier and list its versions.")


def _store() -> ExampleStore:
    return current_app.extensions["moderation.examples"]


def _registry() -> ModelRegistry:
    return current_app.extensions["moderation.scoring"].registry


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
@click.option("--json", "as_json", is_flag=True, help="Print the new version's metadata as JSON.")
def train_model(if_missing: bool, as_json: bool) -> None:
    """Train on training_data/ plus every imported example, and make the new version active."""
    registry = _registry()
    if if_missing:
        try:
            active = registry.load_active()
        except ModelNotFound:
            pass
        except ModelRejected as error:
            click.echo(f"The active model cannot be used ({error}); training a new one.", err=True)
        else:
            click.echo(f"Model {active.version} is active; not training.", err=as_json)
            return
    directory = current_app.config["MODERATION_SETTINGS"].training_data_dir
    seed = seed_corpus(directory)
    imported = _store().corpus()
    corpus = seed + imported
    progress = (lambda message: click.echo(message, err=True))
    progress(f"training on {len(corpus):,} comments: {len(seed):,} from {directory}, "
             f"{len(corpus) - len(seed):,} imported")
    source = f"{directory} + {len(imported):,} imported examples"
    metadata = train_and_save(corpus, registry, source=source, progress=progress)
    registry.activate(metadata["version"])
    if as_json:
        click.echo(json.dumps({**metadata, "active": True}))
    else:
        any_metrics = metadata["metrics"]["any"]
        click.echo(f"Model {metadata['version']} is active "
                   f"(held-out ROC-AUC {any_metrics.get('roc_auc', 'n/a')}, "
                   f"{metadata['artifact_bytes'] / 1e6:.1f} MB).")


@model_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def list_models(as_json: bool) -> None:
    """List every trained version, newest first."""
    versions = _registry().versions()
    if as_json:
        click.echo(json.dumps(versions))
        return
    if not versions:
        click.echo("No models yet: flask --app wsgi model train")
    for record in versions:
        marker = "*" if record["active"] else " "
        auc = record.get("metrics", {}).get("any", {}).get("roc_auc", "n/a")
        click.echo(f"{marker} {record['version']}  rows={record['training_data']['rows']}  "
                   f"roc_auc={auc}  sklearn={record['sklearn_version']}")
