"""Every operation in /openapi.json, fuzzed with schemathesis against the WSGI app (no
network): no answer is a server error, and every answer is one the document describes.

Cases are valid requests, valid requests aimed at rows that exist, and invalid ones
(schemathesis' negative mode), each sent with the credentials its security scheme names.
"""

from __future__ import annotations

import os
import tempfile

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from service import create_app

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# Cases per operation; FUZZ_EXAMPLES=300 digs deeper (about five minutes on both databases).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 20))


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation the document lists, read once at collection."""
    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"APP_ENV": "testing", "DATABASE_URL": "sqlite://",
                          "MODEL_DIR": instance, "INSTANCE_PATH": instance,
                          "SECRET_KEY": "collection-only-secret-key"})
        spec = app.test_client().get("/openapi.json").json
    return [(method.upper(), path) for path, item in spec["paths"].items()
            for method in item if method in ("get", "post", "put", "patch", "delete")]


def _real_parameters(world, operation) -> list[dict[str, object]]:
    """Path parameters naming rows that exist, so some cases get past the 404: a held and
    a published comment of the caller's site, and one of another site."""
    names = {parameter.name for parameter in operation.path_parameters}
    # /v1/authors/ takes the site's own id for an author; /v1/moderation/authors/ ours.
    author = "bugle-troll" if operation.path.startswith("/v1/authors/") else world.author_id
    known = {"author_id": author, "version": world.version, "name": world.site.name,
             "article_id": "bugle-1", "job_id": world.job_id, "example_id": world.example_id}
    base = {name: value for name, value in known.items() if name in names}
    if "comment_id" not in names:
        return [base] if base else []
    return [{**base, "comment_id": comment_id}
            for comment_id in (world.comments["pending_review"], world.comments["approved"],
                               world.other_comments["approved"])]


@pytest.fixture(scope="module")
def api_schema(shared_app):
    """Loaded once: building the document per operation would take most of the time."""
    return schemathesis.openapi.from_wsgi("/openapi.json", shared_app)


@pytest.mark.parametrize("method, path", _operations(), ids=lambda value: value)
def test_no_operation_fails_or_leaves_its_document(api_schema, shared_world, method, path):
    world = shared_world
    operation = api_schema[path][method]
    strategies = [operation.as_strategy(), operation.as_strategy(GenerationMode.NEGATIVE)]
    strategies += [operation.as_strategy(path_parameters=real)
                   for real in _real_parameters(world, operation)]
    headers = world.headers_for(path)

    @given(case=st.one_of(strategies))
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), print_blob=False)
    def fuzz(case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    fuzz()
