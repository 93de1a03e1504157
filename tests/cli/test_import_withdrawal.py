"""An import that takes open tracking away (replace mode) has every withdrawal effect a
decision has (R5, R8), and its entries chain exactly as record_decisions would chain them."""

import hashlib

import sqlalchemy as sa

from clearpixel.domain.ledger import Decision, Method
from clearpixel.domain.ledger_chain import chain
from clearpixel.store.contacts import find_contact
from clearpixel.store.ledger import iter_entries
from clearpixel.store.lists import get_list
from clearpixel.store.schema import personal_events
from tests.cli.test_contacts_import import write


def test_replace_import_withdrawing_open_tracking_forgets_events_and_starts_cooldown(
    cli, ctx, tmp_path
):
    cli("lists", "create", "newsletter")
    first = write(tmp_path, "email,privacy_flags\nann@example.org,3\nbob@example.org,1\n")
    cli("contacts", "import", str(first), "--list", "newsletter", "--basis", "form 2026-10")
    with ctx.db.connect() as conn:
        list_id = get_list(conn, "newsletter").id
        ann = find_contact(conn, list_id, "ann@example.org")
        bob = find_contact(conn, list_id, "bob@example.org")
    assert ann and bob
    with ctx.db.begin() as tx:
        tx.execute(
            personal_events.insert().values(
                campaign_id=1, contact_id=ann.id, event="open", at=ctx.now(), verdict="human",
            )
        )  # fmt: skip
    second = write(
        tmp_path, "email,privacy_flags\nann@example.org,2\nbob@example.org,1\n", "again.csv"
    )
    result = cli(
        "contacts", "import", str(second), "--list", "newsletter", "--flags", "replace",
        "--basis", "withdrawn by letter",
    )  # fmt: skip
    assert "1 flags changes logged" in result.stdout
    with ctx.db.connect() as conn:
        events = conn.execute(sa.select(personal_events)).all()
        ann_now = find_contact(conn, list_id, "ann@example.org")
        bob_now = find_contact(conn, list_id, "bob@example.org")
        entries = list(iter_entries(conn))
    assert events == []
    assert ann_now and ann_now.privacy_flags == 2 and ann_now.consent_cooldown_until is not None
    assert bob_now and bob_now.consent_cooldown_until is None

    last = entries[-1]
    expected = chain(
        Decision(
            contact_id=ann.id, list_id=list_id, email="ann@example.org", granted=0, revoked=1,
            method=Method.IMPORT, at=last.at, evidence=last.evidence,
        ),
        seq=last.seq, flags_before=3, prev_hash=entries[-2].hash, salt=last.salt,
    )  # fmt: skip
    assert last == expected
    assert dict(last.evidence) == {
        "basis": "withdrawn by letter",
        "source_sha256": hashlib.sha256(second.read_bytes()).hexdigest(),
        "source_file": "again.csv",
        "line": 2,
    }
    cli("flags", "check")
    cli("ledger", "verify")
