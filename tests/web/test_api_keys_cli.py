"""`clearpixel apikeys create|ls|revoke` and the admin account `clearpixel init` creates."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from clearpixel.web.app import create_app


def test_key_is_printed_once_listed_by_prefix_and_revocable(cli, ctx):
    created = cli("apikeys", "create", "--name", "crm sync")
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("cpk_")
    listed = json.loads(cli("apikeys", "ls", "--json").stdout)
    assert [(k["name"], k["revoked_at"]) for k in listed] == [("crm sync", None)]
    assert key not in cli("apikeys", "ls").stdout
    assert key.startswith(listed[0]["prefix"])
    with TestClient(create_app(ctx)) as client:
        auth = {"Authorization": f"Bearer {key}"}
        assert client.get("/api/v1/lists", headers=auth).status_code == 200
        cli("apikeys", "revoke", str(listed[0]["id"]))
        assert client.get("/api/v1/lists", headers=auth).status_code == 401
    again = cli("apikeys", "revoke", str(listed[0]["id"]), ok=False)
    assert again.exit_code == 2 and "no active API key" in again.output


def test_init_prints_a_generated_admin_password_once_and_stores_only_its_hash(cli, ctx):
    first = cli("init").output
    assert "password (shown once)" in first
    password = first.split("password (shown once):")[1].split()[0]
    second = cli("init").output
    assert "password unchanged" in second and password not in second
    with ctx.db.connect() as conn:
        stored = [
            row[0] for row in conn.exec_driver_sql("SELECT password_hash FROM admin_accounts")
        ]
    assert len(stored) == 1
    assert stored[0].startswith("$argon2id$")
    assert password not in stored[0]


def test_admin_password_from_the_environment(cli, ctx):
    cli.env["CLEARPIXEL_ADMIN_PASSWORD"] = "from the environment 42"
    out = cli("init").output
    assert "password from CLEARPIXEL_ADMIN_PASSWORD" in out
    assert "from the environment 42" not in out
