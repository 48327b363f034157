"""The deployment files (deploy/): validated as far as this machine allows. No container
engine or cluster runs here and no registry is reachable, so images are neither built nor
started: Debian's docker-compose checks the compose file (`config`), kubectl's kustomize
builds the Kubernetes manifests, and both are read for what a deployment needs."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT

COMPOSE = ROOT / "deploy" / "compose.yaml"
KUBERNETES = ROOT / "deploy" / "kubernetes" / "moderation.yaml"
GUNICORN = ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]


def compose_config(**env: str) -> subprocess.CompletedProcess:
    if shutil.which("docker-compose") is None:
        pytest.skip("needs Debian's docker-compose (apt-get install docker-compose) to check "
                    "deploy/compose.yaml")
    return subprocess.run(["docker-compose", "-f", str(COMPOSE), "config"], text=True,
                          capture_output=True, timeout=60,
                          env={**os.environ, **env}, cwd=ROOT)


def test_the_compose_file_is_valid_and_shares_only_postgres_and_redis():
    result = compose_config(SECRET_KEY="compose-check")
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert set(services) == {"postgres", "redis", "setup", "web", "worker"}
    for name in ("postgres", "redis", "web"):
        assert services[name]["healthcheck"]["test"], name
    assert services["setup"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["setup"]["condition"] == \
            "service_completed_successfully"
    for name in ("setup", "web", "worker"):
        env = services[name]["environment"]
        assert env["MODEL_STORE"] == "database" and env["REDIS_URL"].startswith("redis://")
        assert "volumes" not in services[name], f"{name} must not need a shared volume"
    assert services["web"]["command"] == GUNICORN
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "db upgrade" in " ".join(services["setup"]["command"])


def test_the_compose_file_refuses_to_start_without_a_secret_key():
    result = compose_config(SECRET_KEY="")
    assert result.returncode != 0 and "set SECRET_KEY" in result.stderr


def test_the_kubernetes_manifests_build_and_probe_health_and_readiness(tmp_path):
    if shutil.which("kubectl") is None:
        pytest.skip("needs kubectl to build deploy/kubernetes (kubectl kustomize; no cluster)")
    shutil.copy(KUBERNETES, tmp_path / KUBERNETES.name)
    (tmp_path / "kustomization.yaml").write_text(f"resources:\n- {KUBERNETES.name}\n")
    built = subprocess.run(["kubectl", "kustomize", str(tmp_path)], text=True,
                           capture_output=True, timeout=60)
    assert built.returncode == 0, built.stderr
    documents = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(built.stdout)}
    assert set(documents) == {("Job", "moderation-setup"), ("Deployment", "moderation-web"),
                              ("Deployment", "moderation-worker"),
                              ("Service", "moderation-web")}
    web = documents[("Deployment", "moderation-web")]["spec"]["template"]["spec"]
    (container,) = web["containers"]
    assert container["command"] == GUNICORN
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    job = documents[("Job", "moderation-setup")]["spec"]["template"]["spec"]
    assert "db upgrade" in " ".join(job["containers"][0]["command"])
    for kind, name in documents:
        if kind in ("Job", "Deployment"):
            spec = documents[(kind, name)]["spec"]["template"]["spec"]
            env = {item["name"]: item.get("value") for item in spec["containers"][0]["env"]}
            assert env["MODEL_STORE"] == "database", name
            assert all("persistentVolumeClaim" not in volume
                       for volume in spec.get("volumes", [])), name
