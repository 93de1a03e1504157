from fastapi.testclient import TestClient

from clearpixel.web.app import create_app


def test_healthz_reports_the_database(ctx):
    with TestClient(create_app(ctx)) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
