"""`clearpixel bounces poll pop3://...` against a real POP3 exchange: a DSN and an ARF report
in the mailbox suppress the contacts their VERP tokens name and are deleted; a forged report is
deleted without effect; with the database away, nothing is deleted."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from clearpixel.deliverability import suppression
from clearpixel.deliverability.mailbox import MailboxConfig, poll_pop3
from clearpixel.domain.bounces import verp_address
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.tokens import TokenSigner
from tests.deliverability.conftest import BOUNCE_DOMAIN
from tests.deliverability.pop3 import Mailbox, pop3_server
from tests.deliverability.reports import arf, dsn
from tests.helpers import make_list
from tests.sending.conftest import add_contacts


def _delivered(data: bytes, to: str) -> bytes:
    """As a delivery agent stores it: the envelope recipient in Delivered-To."""
    return f"Delivered-To: {to}\r\nReturn-Path: <>\r\n".encode() + data


@pytest.fixture
def people(bctx):
    list_id = make_list(bctx)
    ids = add_contacts(bctx, list_id, [("ada@example.org", None, {}), ("bob@example.org", 1, {})])
    return {
        email: verp_address(bctx.signer, campaign_id=3, contact_id=cid, domain=BOUNCE_DOMAIN)
        for email, cid in ids.items()
    }


def test_reports_in_the_mailbox_are_recorded_and_deleted(bctx, cli, people):
    forged = verp_address(
        TokenSigner([b"not-our-key-0123456789abcdef01234567"]),
        campaign_id=3,
        contact_id=1,
        domain=BOUNCE_DOMAIN,
    )
    original = f"Return-Path: <{people['bob@example.org']}>\r\nSubject: News\r\n\r\nhi\r\n"
    box = Mailbox("bounces", "s3cret")
    box.messages = [
        _delivered(dsn(verp=people["ada@example.org"], final_recipient="ada@example.org"),
                   people["ada@example.org"]),
        _delivered(arf(original=original.encode(), rcpt="bob@example.org"),
                   f"fbl@{BOUNCE_DOMAIN}"),
        _delivered(dsn(verp=forged, final_recipient="ada@example.org"), forged),
    ]  # fmt: skip
    with pop3_server(box):
        cli.env = {**cli.env, "CLEARPIXEL_BOUNCE_DOMAIN": BOUNCE_DOMAIN}
        out = cli("bounces", "poll", f"pop3://bounces:s3cret@127.0.0.1:{box.port}").output
    assert "read 3, recorded 2, kept 0" in out
    assert box.messages == [], "every handled message is deleted"
    assert suppression.lookup(bctx, "ada@example.org").reason == "hard_bounce"
    assert suppression.lookup(bctx, "bob@example.org").reason == "complaint"


def test_a_wrong_password_is_a_clear_error_and_deletes_nothing(bctx, people):
    box = Mailbox("bounces", "s3cret", [b"Subject: x\r\n\r\nx\r\n"])
    with pop3_server(box):
        config = MailboxConfig.parse(f"pop3://bounces:wrong@127.0.0.1:{box.port}")
        with pytest.raises(ClearpixelError, match="refused the sign-in"):
            poll_pop3(bctx, config)
    assert len(box.messages) == 1


def test_with_the_database_away_nothing_is_deleted(bctx, people):
    report = dsn(verp=people["ada@example.org"], final_recipient="ada@example.org")
    box = Mailbox("bounces", "s3cret", [_delivered(report, people["ada@example.org"])])
    working = bctx.db.engine
    # the database taken away: an engine on a file that cannot exist
    bctx.db.engine = create_engine("sqlite:////nonexistent-folder/none.db")
    try:
        with pop3_server(box):
            config = MailboxConfig.parse(f"pop3://bounces:s3cret@127.0.0.1:{box.port}")
            result = poll_pop3(bctx, config)
    finally:
        bctx.db.engine.dispose()
        bctx.db.engine = working
    assert (result.read, result.recorded, result.kept) == (1, 0, 1)
    assert len(box.messages) == 1, "kept for the next poll"
    assert suppression.lookup(bctx, "ada@example.org") is None


@pytest.mark.parametrize(
    "url", ["imap://u:p@host", "pop3://host", "pop3s://user@host", "pop3://u:p@host:99999"]
)
def test_bad_mailbox_urls_name_the_problem(url):
    with pytest.raises(ClearpixelError, match="mailbox URL"):
        MailboxConfig.parse(url)
