from fastapi.testclient import TestClient

from clearpixel.context import Context
from clearpixel.store.db import Database
from clearpixel.web.app import create_app


def test_healthz_reports_the_database(ctx):
    with TestClient(create_app(ctx)) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["database"] == "ok"


def test_healthz_is_degraded_while_the_database_cannot_be_reached(ctx):
    nowhere = "postgresql+psycopg://clearpixel@127.0.0.1:1/clearpixel"  # nothing listens on 1
    broken = Context(settings=ctx.settings, db=Database(nowhere), now=ctx.now)
    try:
        with TestClient(create_app(broken)) as client:
            response = client.get("/healthz")
            pixel = client.get("/o/a/anything.gif")
    finally:
        broken.db.dispose()
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["database"] == "unreachable"
    assert pixel.status_code == 200  # the pixel answers whatever the database (R12)
