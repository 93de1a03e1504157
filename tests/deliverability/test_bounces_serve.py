"""A real DSN and a real ARF report delivered over SMTP to `clearpixel bounces serve` (a
separate process): the contact their VERP token names is suppressed; a forged token, a
report without one and mail for another domain record nothing."""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from clearpixel.deliverability import suppression
from clearpixel.domain.bounces import verp_address
from clearpixel.domain.tokens import TokenSigner
from clearpixel.sending import campaigns
from clearpixel.sending.transports import SmtpConfig, SmtpTransport
from clearpixel.store.bounces import bounces_for
from tests.deliverability.conftest import BOUNCE_DOMAIN, free_port
from tests.deliverability.reports import arf, dsn, plain
from tests.helpers import make_list
from tests.sending.conftest import add_contacts

HTML = "<html><body><p>Hello</p></body></html>"


@pytest.fixture
def bounce_server(cli_env, tmp_path) -> Iterator[int]:
    port = free_port()
    log = tmp_path / "bounces-serve.log"
    env = {**os.environ, **cli_env, "CLEARPIXEL_BOUNCE_DOMAIN": BOUNCE_DOMAIN}
    out = log.open("wb")
    process = subprocess.Popen(
        [
            sys.executable, "-c", "from clearpixel.cli import main; main()",
            "bounces", "serve", "--host", "127.0.0.1", "--port", str(port),
        ],
        env=env, stdout=subprocess.DEVNULL, stderr=out,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, log.read_text()
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as probe:
                probe.noop()
            break
        except OSError:
            assert time.monotonic() < deadline, "bounces serve did not start"
            time.sleep(0.1)
    try:
        yield port
    finally:
        process.terminate()
        code = process.wait(timeout=20)
        out.close()
    assert code == 0, log.read_text()


@pytest.fixture
def delivered(bctx, refusing_smtp):
    """A campaign delivered to three people; their VERP return paths as the server saw them."""
    list_id = make_list(bctx)
    people = [(e, None, {}) for e in ("ada@example.org", "bob@example.org", "cy@example.org")]
    ids = add_contacts(bctx, list_id, people)
    campaign = campaigns.create_campaign(
        bctx, list_name="newsletter", kind="marketing", subject="Hello", html=HTML
    )
    campaigns.send_campaign(bctx, campaign.id, SmtpTransport(SmtpConfig.parse(refusing_smtp.url)))
    paths = {rcpt: mail_from for mail_from, rcpt, _ in refusing_smtp.handler.accepted}
    messages = {rcpt: data for _, rcpt, data in refusing_smtp.handler.accepted}
    return campaign, ids, paths, messages


def _mail(port: int, rcpt: str, data: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.sendmail("", [rcpt], data)


def _wait_for(check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "nothing recorded in time"
        time.sleep(0.05)


def test_a_dsn_suppresses_the_contact_its_verp_token_names(bctx, bounce_server, delivered):
    campaign, ids, paths, _ = delivered
    verp = paths["ada@example.org"]
    # the remote server reports the address it expanded to; the token, not that, decides
    _mail(bounce_server, verp, dsn(verp=verp, final_recipient="ada.lovelace@mailstore.example"))
    _wait_for(lambda: suppression.lookup(bctx, "ada@example.org") is not None)
    listed = suppression.lookup(bctx, "ada@example.org")
    assert listed.reason == "hard_bounce" and listed.actor == "bounce:dsn"
    with bctx.db.connect() as conn:
        (event,) = bounces_for(conn, "ada@example.org")
    assert (event.kind, event.status, event.source) == ("hard", "5.1.1", "dsn")
    assert "Recipient address rejected" in event.diagnostic
    assert (event.campaign_id, event.contact_id) == (campaign.id, ids["ada@example.org"])
    assert event.evidence["final_recipient"] == "rfc822; ada.lovelace@mailstore.example"
    for other in ("bob@example.org", "cy@example.org", "ada.lovelace@mailstore.example"):
        assert suppression.lookup(bctx, other) is None


def test_a_delayed_dsn_is_a_soft_bounce_that_does_not_suppress_alone(
    bctx, bounce_server, delivered
):
    _, _, paths, _ = delivered
    verp = paths["bob@example.org"]
    report = dsn(verp=verp, final_recipient="bob@example.org", action="delayed", status="4.4.7")
    _mail(bounce_server, verp, report)
    with bctx.db.connect() as conn:
        _wait_for(lambda: bounces_for(conn, "bob@example.org"))
        (event,) = bounces_for(conn, "bob@example.org")
    assert (event.kind, event.status) == ("soft", "4.4.7")
    assert suppression.lookup(bctx, "bob@example.org") is None


def test_an_arf_complaint_suppresses_through_the_quoted_return_path(bctx, bounce_server, delivered):
    _, ids, paths, messages = delivered
    original = (
        b"Return-Path: <%s>\r\n" % paths["cy@example.org"].encode() + messages["cy@example.org"]
    )
    _mail(bounce_server, f"fbl@{BOUNCE_DOMAIN}", arf(original=original, rcpt="cy@example.org"))
    _wait_for(lambda: suppression.lookup(bctx, "cy@example.org") is not None)
    listed = suppression.lookup(bctx, "cy@example.org")
    assert listed.reason == "complaint"
    with bctx.db.connect() as conn:
        (event,) = bounces_for(conn, "cy@example.org")
    assert event.kind == "complaint" and event.contact_id == ids["cy@example.org"]
    assert event.evidence["feedback_type"] == "abuse"


def test_forged_or_missing_tokens_and_other_domains_record_nothing(
    bctx, bounce_server, delivered, settings
):
    _, _, paths, messages = delivered
    foreign = TokenSigner([b"someone-else's-key-0123456789abcdef0123"])
    forged = verp_address(foreign, campaign_id=1, contact_id=1, domain=BOUNCE_DOMAIN)
    real = paths["ada@example.org"]
    local, _, domain = real.partition("@")
    tampered = f"{local[:-2]}{'a' if local[-2] != 'a' else 'b'}{local[-1]}@{domain}"
    for rcpt in (forged, tampered, f"b@{BOUNCE_DOMAIN}", f"postmaster@{BOUNCE_DOMAIN}"):
        _mail(bounce_server, rcpt, dsn(verp=rcpt, final_recipient="ada@example.org"))
    # an ARF whose quoted message carries no token of ours
    quoted = b"Return-Path: <news@example.org>\r\n" + messages["bob@example.org"]
    _mail(bounce_server, f"fbl@{BOUNCE_DOMAIN}", arf(original=quoted, rcpt="bob@example.org"))
    _mail(bounce_server, real, plain("not a report at all"))
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        _mail(bounce_server, "ada@example.org", dsn(verp=real, final_recipient="x@example.org"))
    # a last, valid report: once it is in, every earlier one has been processed
    verp = paths["cy@example.org"]
    _mail(bounce_server, verp, dsn(verp=verp, final_recipient="cy@example.org"))
    _wait_for(lambda: suppression.lookup(bctx, "cy@example.org") is not None)
    for email in ("ada@example.org", "bob@example.org"):
        assert suppression.lookup(bctx, email) is None
        with bctx.db.connect() as conn:
            assert bounces_for(conn, email) == []
