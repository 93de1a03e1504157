"""`clearpixel bounces poll` against real POP3 and IMAP exchanges: a DSN and an ARF report in
the mailbox suppress the contacts their VERP tokens name and are deleted; a forged report is
deleted without effect; with the database away, nothing is deleted."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from clearpixel.deliverability import suppression
from clearpixel.deliverability.mailbox import MailboxConfig, poll
from clearpixel.domain.bounces import verp_address
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.tokens import TokenSigner
from tests.deliverability.conftest import BOUNCE_DOMAIN
from tests.deliverability.imap import imap_server
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


SERVERS = {"pop3": (pop3_server, ""), "imap": (imap_server, "/Bounces")}


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
def test_reports_in_the_mailbox_are_recorded_and_deleted(bctx, cli, people, protocol):
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
    server, folder = SERVERS[protocol]
    with server(box, *([folder.strip("/")] if folder else [])):
        cli.env = {**cli.env, "CLEARPIXEL_BOUNCE_DOMAIN": BOUNCE_DOMAIN}
        url = f"{protocol}://bounces:s3cret@127.0.0.1:{box.port}{folder}"
        out = cli("bounces", "poll", url).output
    assert "read 3, recorded 2, kept 0" in out
    assert box.messages == [], "every handled message is deleted"
    assert suppression.lookup(bctx, "ada@example.org").reason == "hard_bounce"
    assert suppression.lookup(bctx, "bob@example.org").reason == "complaint"


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
def test_a_wrong_password_is_a_clear_error_and_deletes_nothing(bctx, people, protocol):
    box = Mailbox("bounces", "s3cret", [b"Subject: x\r\n\r\nx\r\n"])
    with SERVERS[protocol][0](box):
        config = MailboxConfig.parse(f"{protocol}://bounces:wrong@127.0.0.1:{box.port}")
        with pytest.raises(ClearpixelError, match="refused the sign-in"):
            poll(bctx, config)
    assert len(box.messages) == 1


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
def test_with_the_database_away_nothing_is_deleted(bctx, people, protocol):
    report = dsn(verp=people["ada@example.org"], final_recipient="ada@example.org")
    box = Mailbox("bounces", "s3cret", [_delivered(report, people["ada@example.org"])])
    working = bctx.db.engine
    # the database taken away: an engine on a file that cannot exist
    bctx.db.engine = create_engine("sqlite:////nonexistent-folder/none.db")
    try:
        with SERVERS[protocol][0](box):
            config = MailboxConfig.parse(f"{protocol}://bounces:s3cret@127.0.0.1:{box.port}")
            result = poll(bctx, config)
    finally:
        bctx.db.engine.dispose()
        bctx.db.engine = working
    assert (result.read, result.recorded, result.kept) == (1, 0, 1)
    assert len(box.messages) == 1, "kept for the next poll"
    assert suppression.lookup(bctx, "ada@example.org") is None


@pytest.mark.parametrize(
    "url", ["smtp://u:p@host", "pop3://host", "imaps://user@host", "pop3://u:p@host:99999"]
)
def test_bad_mailbox_urls_name_the_problem(url):
    with pytest.raises(ClearpixelError, match="mailbox URL"):
        MailboxConfig.parse(url)
