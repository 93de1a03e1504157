"""Migration 0019 re-chains a ledger written in the former format (address and evidence
hashed in clear): entries keep their seq and fields, commit to their personal data, and
entry 1 continues from the former head's hash, which `ledger verify` explains; checkpoints
of the former chain are judged by that record. A former chain that does not verify is not
re-chained."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from clearpixel.consent.checkpoints import ensure_ledger_key, load_private_key
from clearpixel.context import open_context
from clearpixel.domain import checkpoints as signed
from clearpixel.store.db import MIGRATIONS, Database
from clearpixel.store.ledger import iter_entries
from tests.conftest import TEST_KEY, Cli

AT = datetime(2026, 10, 1, 8, 0, 0, 123456, tzinfo=UTC)


def former_hash(fields: dict[str, object]) -> str:
    """The former canonical form, as it was first defined: sorted compact JSON of every field
    but the hash, the timestamp in UTC with microseconds."""
    payload = {**fields, "at": AT.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def former_ledger(settings, *, tamper: bool = False) -> str:  # type: ignore[no-untyped-def]
    """A database at revision 0018 holding three entries of the former format; returns the
    former head's hash."""
    db = Database(settings.db_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0018")
    prev = "0" * 64
    rows = []
    for seq, (email, granted, before, after) in enumerate(
        [("ana@example.org", 1, None, 1), ("bob@example.org", 3, None, 3),
         ("ana@example.org", 0, 1, 0)], start=1,
    ):  # fmt: skip
        fields = {
            "seq": seq, "contact_id": 1 if email.startswith("ana") else 2, "list_id": 1,
            "email": email, "at": AT, "method": "api", "granted": granted,
            "revoked": 1 if granted == 0 else 0, "flags_before": before, "flags_after": after,
            "actor": "api:crm", "notice_id": None, "notice_sha256": None,
            "evidence": {"ip": "203.0.113.0", "note": "née"}, "prev_hash": prev,
        }  # fmt: skip
        digest = former_hash(fields)
        rows.append({**fields, "evidence": json.dumps(fields["evidence"]), "hash": digest})
        prev = digest
    if tamper:
        rows[1]["actor"] = "someone else"
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO consent_ledger (seq, contact_id, list_id, email, at, method, "
                "granted, revoked, flags_before, flags_after, actor, notice_id, notice_sha256, "
                "evidence, prev_hash, hash) VALUES (:seq, :contact_id, :list_id, :email, :at, "
                ":method, :granted, :revoked, :flags_before, :flags_after, :actor, :notice_id, "
                ":notice_sha256, "
                + ("CAST(:evidence AS JSONB)" if db.is_postgres else ":evidence")
                + ", :prev_hash, :hash)"
            ),
            rows,
        )
        conn.execute(sa.text("UPDATE ledger_head SET seq = 3, hash = :h"), {"h": prev})
    db.dispose()
    return prev


def test_the_former_ledger_is_re_chained_and_verify_explains_it(settings):
    old_head = former_ledger(settings)
    ensure_ledger_key(settings)
    key = load_private_key(settings)
    folder = settings.checkpoint_path
    folder.mkdir(parents=True, exist_ok=True)
    former = {
        "head": signed.sign(key, seq=3, hash=old_head, at="2026-10-01T09:00:00Z"),
        "earlier": signed.sign(key, seq=1, hash="a" * 64, at="2026-10-01T08:30:00Z"),
    }
    for name, checkpoint in former.items():
        as_former = json.loads(checkpoint.to_json()) | {"format": signed.FORMER_FORMAT}
        signature = key.sign(
            signed.signed_message(seq=checkpoint.seq, hash=checkpoint.hash, at=checkpoint.at,
                                  key=checkpoint.key_id, format=signed.FORMER_FORMAT)
        )  # fmt: skip
        as_former["signature"] = base64.b64encode(signature).decode()
        (folder / f"former-{name}.json").write_text(json.dumps(as_former))

    ctx = open_context(settings)  # migrates to the newest revision
    with ctx.db.connect() as conn:
        entries = list(iter_entries(conn))
        head = conn.execute(sa.text("SELECT origin_seq, origin_hash FROM ledger_head")).one()
    ctx.db.dispose()
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == old_head and tuple(head) == (3, old_head)
    assert [e.email for e in entries] == ["ana@example.org", "bob@example.org", "ana@example.org"]
    assert entries[0].evidence == {"ip": "203.0.113.0", "note": "née"}
    assert all(len(e.personal) == 64 and e.salt for e in entries)

    cli = Cli(
        {
            "CLEARPIXEL_DATA_DIR": str(settings.data_dir),
            "CLEARPIXEL_DATABASE_URL": settings.database_url,
            "CLEARPIXEL_SECRET_KEYS": TEST_KEY,
            "CLEARPIXEL_BASE_URL": settings.base_url,
        }
    )
    result = cli("ledger", "verify", ok=False)
    assert result.exit_code == 0, result.output
    assert "3 entries, chain intact" in result.stdout
    assert f"continues from the former chain's head (entry 3, hash {old_head})" in result.stdout
    assert "2 checkpoint(s) of the former chain" in result.stdout

    forged = json.loads((folder / "former-head.json").read_text())
    (folder / "former-head.json").unlink()
    bad = signed.sign(key, seq=3, hash="b" * 64, at="2026-10-01T09:00:00Z")
    forged |= {
        "hash": bad.hash,
        "signature": base64.b64encode(
            key.sign(signed.signed_message(seq=3, hash=bad.hash, at=bad.at, key=bad.key_id,
                                           format=signed.FORMER_FORMAT))
        ).decode(),
    }  # fmt: skip
    (folder / "former-forged.json").write_text(json.dumps(forged))
    result = cli("ledger", "verify", ok=False)
    assert result.exit_code == 1
    assert "signs another hash for entry 3, the former ledger's head" in result.output


def test_a_former_ledger_that_does_not_verify_is_not_re_chained(settings):
    former_ledger(settings, tamper=True)
    db = Database(settings.db_url)
    try:
        with pytest.raises(RuntimeError, match="ledger entry 2 does not match its hash"):
            db.migrate()
        with db.connect() as conn:  # nothing changed: still the former format
            assert "email" in {c["name"] for c in sa.inspect(conn).get_columns("consent_ledger")}
    finally:
        db.dispose()
