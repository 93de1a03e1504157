"""Proof of consent: a third party can recompute every hash and check every chain link."""

from __future__ import annotations

import hashlib
import json

from clearpixel.consent.evidence import web_evidence
from clearpixel.consent.forms import record_signup, signup_form
from clearpixel.consent.proof import proof_for, render_proof_html
from clearpixel.domain.ledger_chain import GENESIS_HASH
from clearpixel.store.lists import get_list
from tests.helpers import make_contacts, make_list


def _recompute(fields: dict) -> str:  # type: ignore[type-arg]
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _setup(ctx):  # type: ignore[no-untyped-def]
    list_id = make_list(ctx)
    make_contacts(ctx, list_id, [1, None, 3])  # other entries interleave in the chain
    form = signup_form(ctx, "newsletter", "fr")
    with ctx.db.begin() as tx:
        record_signup(
            tx,
            ctx,
            get_list(tx, "newsletter"),
            address="zoé@example.org",
            ticked={"open_tracking"},
            notice_ids={p.name: p.notice.id for p in form.purposes},
            locale="fr",
            evidence=web_evidence(ip="192.0.2.44", user_agent="UA", page_url="https://o.example/"),
            now=ctx.now(),
        )
    make_contacts(ctx, make_list(ctx, "other"), [2])


def test_proof_json_lets_a_third_party_recompute_each_hash(ctx, cli):
    _setup(ctx)
    result = cli("consent", "proof", "zoé@example.org", "--list", "newsletter")
    proof = json.loads(result.output)
    assert proof["all_verified"] is True
    assert proof["contact"]["email"] == "zoé@example.org"
    assert proof["contact"]["privacy_flags"] == 1
    assert len(proof["entries"]) == 3
    for entry in proof["entries"]:
        assert _recompute(entry["hashed_fields"]) == entry["hash"]
        assert entry["hashed_fields"]["prev_hash"] == entry["prev_hash"]
        assert entry["previous_entry_hash"] == entry["prev_hash"]
        if entry["next_entry_prev_hash"] is not None:
            assert entry["next_entry_prev_hash"] == entry["hash"]
        notice = entry["notice"]
        assert notice["locale"] == "fr"
        assert hashlib.sha256(notice["text"].encode()).hexdigest() == notice["sha256"]
        assert notice["sha256"] == entry["hashed_fields"]["notice_sha256"]
        assert entry["evidence"]["ip"] == "192.0.2.0"


def test_a_tampered_proof_no_longer_recomputes(ctx):
    _setup(ctx)
    proof = proof_for(ctx, "zoé@example.org", "newsletter")
    entry = proof["entries"][0]
    entry["hashed_fields"]["granted"] = 7
    assert _recompute(entry["hashed_fields"]) != entry["hash"]


def test_first_entry_links_to_the_genesis(ctx):
    list_id = make_list(ctx)
    make_contacts(ctx, list_id, [1])
    proof = proof_for(ctx, "person0@example.org", "newsletter")
    assert proof["entries"][0]["prev_hash"] == GENESIS_HASH
    assert proof["entries"][0]["links_verified"]


def test_proof_html_is_printable_and_shows_the_notice_text(ctx, cli):
    _setup(ctx)
    page = cli(
        "consent",
        "proof",
        "zoé@example.org",
        "--list",
        "newsletter",
        "--format",
        "html",
        "--locale",
        "fr",
    ).output
    assert page.startswith("<!doctype html>")
    assert '<html lang="fr">' in page
    assert "Preuve du consentement" in page
    assert "suivi des ouvertures" in page
    assert "@media print" in page
    html = render_proof_html(proof_for(ctx, "zoé@example.org", "newsletter"))
    assert "Proof of consent" in html


def test_proof_of_an_unknown_address_is_a_clear_error(ctx, cli):
    make_list(ctx)
    result = cli("consent", "proof", "ghost@example.org", "--list", "newsletter", ok=False)
    assert result.exit_code == 2
    assert "no contact" in result.output
