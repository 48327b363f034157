"""`flask --app wsgi model ...`: train the classifier and list its versions."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from classifier import ModelNotFound, ModelRegistry, ModelRejected, seed_corpus, train_and_save

model_cli = AppGroup("model", help="Train the classifier and list its versions.")


def _registry() -> ModelRegistry:
    return current_app.extensions["moderation.scoring"].registry


@model_cli.command("train")
@click.option("--if-missing", is_flag=True, help="Only train when no model is active.")
@click.option("--json", "as_json", is_flag=True, help="Print the new version's metadata as JSON.")
def train_model(if_missing: bool, as_json: bool) -> None:
    """Train on the seed corpus and make the new version active."""
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
    corpus = seed_corpus(directory)
    progress = (lambda message: click.echo(message, err=True))
    progress(f"training on {len(corpus)} comments from {directory}")
    metadata = train_and_save(corpus, registry, source=str(directory), progress=progress)
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
