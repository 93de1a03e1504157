import json

import sqlalchemy as sa

from clearpixel.consent import record_decision
from clearpixel.consent.checkpoints import ensure_ledger_key
from clearpixel.domain.ledger import Method
from tests.helpers import make_contacts, make_list


def test_a_sound_installation_is_compliant(cli, ctx):
    make_contacts(ctx, make_list(ctx), [None, 0, 1, 3])
    ensure_ledger_key(ctx.settings)
    cli("ledger", "checkpoint")
    result = cli("check", "--json")
    findings = {f["topic"]: f["status"] for f in json.loads(result.stdout)}
    assert findings["tracking strategy"] == "ok"
    assert findings["consent ledger"] == "ok"
    assert findings["flags = replay of the ledger"] == "ok"
    assert "not compliant" not in findings.values()


def test_a_ledger_no_checkpoint_anchors_is_a_warning(cli, ctx):
    make_contacts(ctx, make_list(ctx), [1])
    result = cli("check", "--json")
    findings = {f["topic"]: f for f in json.loads(result.stdout)}
    assert findings["consent ledger"]["status"] == "warning"
    assert "no signed checkpoint" in findings["consent ledger"]["detail"]


def test_legacy_strategy_is_reported_not_compliant(cli):
    cli.env = {**cli.env, "CLEARPIXEL_STRATEGY": "legacy"}
    result = cli("check", ok=False)
    assert result.exit_code == 1
    assert "legacy" in result.output
    assert "NOT COMPLIANT" in result.output


def test_flags_changed_behind_the_ledger_make_the_installation_not_compliant(cli, ctx):
    (cid,) = make_contacts(ctx, make_list(ctx), [None])
    record_decision(ctx.db, cid, granted=1, method=Method.API, now=ctx.now(), cooldown=ctx.cooldown)
    with ctx.db.begin() as tx:  # a write that bypasses record_decision
        tx.execute(sa.text("UPDATE contacts SET privacy_flags = 0 WHERE id = :id"), {"id": cid})
    result = cli("check", "--json", ok=False)
    assert result.exit_code == 1
    findings = {f["topic"]: f for f in json.loads(result.stdout)}
    assert findings["flags = replay of the ledger"]["status"] == "not compliant"
    assert f"contact {cid}" in findings["flags = replay of the ledger"]["detail"]


def test_check_warns_while_organisation_settings_are_the_example_defaults(cli):
    findings = {f["topic"]: f for f in json.loads(cli("check", "--json").stdout)}
    placeholder = findings["organisation settings"]
    assert placeholder["status"] == "warning"
    for variable in (
        "CLEARPIXEL_ORGANISATION",
        "CLEARPIXEL_PRIVACY_POLICY_URL",
        "CLEARPIXEL_FROM_ADDRESS",
        "CLEARPIXEL_UNSUBSCRIBE_MAILTO",
    ):
        assert variable in placeholder["detail"]
    cli.env = {
        **cli.env,
        "CLEARPIXEL_ORGANISATION": "Atelier Lumière",
        "CLEARPIXEL_PRIVACY_POLICY_URL": "https://atelier.example/privacy",
        "CLEARPIXEL_FROM_ADDRESS": "news@atelier.example",
        "CLEARPIXEL_UNSUBSCRIBE_MAILTO": "unsubscribe@atelier.example",
    }
    findings = {f["topic"]: f for f in json.loads(cli("check", "--json").stdout)}
    assert findings["organisation settings"] == {
        "topic": "organisation settings",
        "status": "ok",
        "detail": "Atelier Lumière",
    }


def test_entries_left_unanchored_by_a_stale_checkpoint_are_a_warning(cli, ctx):
    (cid,) = make_contacts(ctx, make_list(ctx), [None])
    ensure_ledger_key(ctx.settings)
    cli("ledger", "checkpoint")  # at FIXED_NOW, of an empty ledger
    record_decision(ctx.db, cid, granted=1, method=Method.API, now=ctx.now(), cooldown=ctx.cooldown)
    fresh = json.loads(cli("check", "--json").stdout)
    assert {f["topic"]: f["status"] for f in fresh}["consent ledger"] == "ok"
    cli.env = {**cli.env, "CLEARPIXEL_CHECKPOINT_MINUTES": "0.0001"}  # the schedule is late
    stale = {f["topic"]: f for f in json.loads(cli("check", "--json").stdout)}
    assert stale["consent ledger"]["status"] == "warning"
    assert "the newest 1 are not anchored" in stale["consent ledger"]["detail"]
