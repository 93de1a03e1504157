"""The subject export includes the address's suppression entry, its log and the bounces and
complaints recorded for it, and none of another person's; an address held only on the
suppression list can still be exported."""

from __future__ import annotations

import json

from clearpixel.deliverability import suppression
from clearpixel.deliverability.bounces import record
from clearpixel.domain.bounces import BounceEvent, BounceKind
from tests.conftest import FIXED_NOW
from tests.subjects.people import populate


def _bounce(email: str, kind: BounceKind, diagnostic: str) -> BounceEvent:
    return BounceEvent(
        kind=kind,
        email=email,
        source="webhook:ses",
        at=FIXED_NOW,
        status="5.1.1" if kind is BounceKind.HARD else "",
        diagnostic=diagnostic,
        evidence={"feedback_id": f"fb-{email}"},
    )


def test_export_lists_the_persons_suppression_and_bounces_and_nobody_elses(ctx, cli):
    ana = populate(ctx, "ana@example.org", "Zephyrine", ip="203.0.113.77", tag="AnaAgent")
    populate(ctx, "bob@example.org", "Quillon", ip="198.51.100.23", tag="BobAgent")
    record(
        ctx,
        [
            _bounce("Ana@Example.org", BounceKind.HARD, "550 5.1.1 mailbox Zephyrine-gone"),
            _bounce("bob@example.org", BounceKind.COMPLAINT, "feedback report: Quillon-abuse"),
        ],
    )
    suppression.remove(ctx, ana.email, actor="admin:1", reason="she wrote to us: fixed")
    suppression.add(ctx, ana.email, reason="manual", actor="admin:1", note="asked again")

    export = json.loads(cli("subject", "export", "ana@example.org").output)
    assert export["suppression"] == {
        "reason": "manual",
        "since": export["suppression"]["since"],
        "by": "admin:1",
        "evidence": {"note": "asked again"},
    }
    assert [(e["action"], e["reason"], e["by"]) for e in export["suppression_log"]] == [
        ("add", "hard_bounce", "bounce:webhook:ses"),
        ("remove", "she wrote to us: fixed", "admin:1"),
        ("add", "manual", "admin:1"),
    ]
    [bounce] = export["bounces"]
    assert (bounce["kind"], bounce["status"], bounce["source"]) == ("hard", "5.1.1", "webhook:ses")
    assert bounce["diagnostic"] == "550 5.1.1 mailbox Zephyrine-gone"
    text = json.dumps(export)
    for foreign in ("bob@example.org", "Quillon", "complaint", "fb-bob"):
        assert foreign not in text

    page = cli("subject", "export", "ana@example.org", "--format", "html").output
    assert "Your address is on our suppression list" in page and "asked again" in page
    assert "550 5.1.1 mailbox Zephyrine-gone" in page and "Quillon" not in page


def test_a_person_never_suppressed_has_no_entry(ctx, cli):
    populate(ctx, "ana@example.org", "Zephyrine", ip="203.0.113.77", tag="AnaAgent")
    suppression.add(ctx, "bob@example.org", reason="manual", actor="admin:1")
    export = json.loads(cli("subject", "export", "ana@example.org").output)
    assert (export["suppression"], export["suppression_log"], export["bounces"]) == (None, [], [])
    page = cli("subject", "export", "ana@example.org", "--format", "html").output
    assert "Your address is not on our suppression list" in page


def test_an_address_held_only_on_the_suppression_list_is_exported(ctx, cli):
    suppression.add(ctx, "Gone@Example.org", reason="complaint", actor="admin:1", note="FBL")
    export = json.loads(cli("subject", "export", "gone@example.org").output)
    assert export["lists"] == []
    assert (export["suppression"]["reason"], export["suppression"]["evidence"]) == (
        "complaint",
        {"note": "FBL"},
    )
