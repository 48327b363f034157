"""Health, readiness and the API reference."""

from service import create_app
from service.container import services
from service.extensions import db


def test_healthz_answers(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_reports_database_and_model(client, seed_model):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": True, "model": True}
    assert response.json["model_version"] == seed_model.version


def test_readyz_fails_without_a_model_and_submissions_answer_503(app_config, tmp_path):
    app = create_app({**app_config, "MODEL_DIR": str(tmp_path / "no-models")})
    with app.app_context():
        db.create_all()
        issued = services(app).sites.create("site")
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["model"] is False
    submit = client.post("/v1/comments", headers={"Authorization": f"Bearer {issued.api_key}"},
                         json={"article_id": "a", "author": {"id": "b"}, "text": "hello"})
    assert submit.status_code == 503
    assert submit.headers["Retry-After"]
    assert "model train" in submit.json["message"]
    with app.app_context():
        db.drop_all()


def test_openapi_documents_every_endpoint_with_its_security(client):
    spec = client.get("/openapi.json").json
    assert {"/v1/comments", "/v1/comments/{comment_id}", "/v1/score", "/v1/score/batch"} <= set(spec["paths"])
    assert spec["paths"]["/v1/comments"]["post"]["security"] == [{"siteKey": []}]
    assert spec["components"]["securitySchemes"]["siteKey"]["scheme"] == "bearer"


def test_the_api_reference_page_uses_only_local_assets(client):
    page = client.get("/docs").get_data(as_text=True)
    assert "swagger-ui" in page
    assert "http://" not in page and "https://" not in page and "<script>" not in page
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/api-docs.js").status_code == 200
