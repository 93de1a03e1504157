"""The pure rules of deliverability: VERP addresses round-trip and refuse any change; what an
SMTP reply or a DSN block means; the suppression rule; the webhook signature and its window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearpixel.domain.bounces import (
    BounceKind,
    SmtpStage,
    SoftBouncePolicy,
    SuppressionReason,
    classify_dsn,
    classify_smtp,
    suppression_for,
    verp_address,
    verp_token,
)
from clearpixel.domain.tokens import TokenError, TokenSigner
from clearpixel.domain.webhooks import BadWebhookSignature, retry_delay, signature_header, verify

SIGNER = TokenSigner([b"domain-test-key-0123456789abcdef0123456789"])
OTHER = TokenSigner([b"another-key-0123456789abcdef0123456789abcd"])
DOMAIN = "bounces.example.org"
IDS = st.integers(min_value=0, max_value=2**31 - 1)


@given(campaign=IDS, contact=IDS)
def test_verp_addresses_round_trip_fit_smtp_and_survive_case_folding(campaign, contact):
    address = verp_address(SIGNER, campaign_id=campaign, contact_id=contact, domain=DOMAIN)
    local, _, domain = address.partition("@")
    assert domain == DOMAIN and len(local) <= 64 and local == local.lower()
    for spelling in (address, address.upper(), f"<{address}>"):
        token = verp_token(SIGNER, spelling, domain=DOMAIN.upper())
        assert (token.campaign_id, token.contact_id) == (campaign, contact)


@given(campaign=IDS, contact=IDS, data=st.data())
def test_any_changed_character_or_foreign_key_is_refused(campaign, contact, data):
    address = verp_address(SIGNER, campaign_id=campaign, contact_id=contact, domain=DOMAIN)
    local = address.split("@")[0]
    at = data.draw(st.integers(min_value=1, max_value=len(local) - 1))
    swap = data.draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz234567").filter(
        lambda c: c != local[at]
    ))  # fmt: skip
    changed = local[:at] + swap + local[at + 1 :]
    with pytest.raises(TokenError):
        verp_token(SIGNER, f"{changed}@{DOMAIN}", domain=DOMAIN)
    with pytest.raises(TokenError):
        verp_token(OTHER, address, domain=DOMAIN)
    with pytest.raises(TokenError):
        verp_token(SIGNER, address.replace(DOMAIN, "example.net"), domain=DOMAIN)


@pytest.mark.parametrize(
    ("stage", "code", "reply", "kind"),
    [
        (SmtpStage.RCPT, 550, "5.1.1 User unknown", BounceKind.HARD),
        (SmtpStage.RCPT, 550, "no such user", BounceKind.HARD),
        (SmtpStage.RCPT, 451, "4.2.1 try later", BounceKind.SOFT),
        (SmtpStage.RCPT, 552, "5.2.2 mailbox full", BounceKind.SOFT),
        (SmtpStage.DATA, 550, "5.1.1 user unknown", BounceKind.HARD),
        (SmtpStage.DATA, 452, "4.2.2 over quota", BounceKind.SOFT),
        (SmtpStage.DATA, 554, "5.7.1 rejected as spam", None),
        (SmtpStage.DATA, 552, "5.3.4 message too big", None),
        (SmtpStage.DATA, 554, "transaction failed", None),
        (SmtpStage.MAIL, 550, "5.1.8 bad sender domain", None),
        (SmtpStage.CONNECT, 421, "4.3.2 shutting down", None),
        (SmtpStage.CONNECT, 0, "Connection refused", None),
    ],
)
def test_what_an_smtp_reply_means_for_its_recipient(stage, code, reply, kind):
    assert classify_smtp(stage, code, reply) is kind


@pytest.mark.parametrize(
    ("action", "status", "kind"),
    [
        ("failed", "5.1.1", BounceKind.HARD),
        ("Failed", "5.2.2", BounceKind.SOFT),
        ("failed", "4.4.7", BounceKind.SOFT),
        ("delayed", "4.4.1", BounceKind.SOFT),
        ("delivered", "2.0.0", None),
        ("relayed", "2.0.0", None),
        ("expanded", "2.0.0", None),
    ],
)
def test_what_a_dsn_block_means(action, status, kind):
    assert classify_dsn(action, status) is kind


def test_complaints_and_hard_bounces_suppress_at_once_soft_at_the_limit():
    policy = SoftBouncePolicy(limit=3)
    complaint = suppression_for(BounceKind.COMPLAINT, soft_bounces_in_window=0, policy=policy)
    assert complaint is SuppressionReason.COMPLAINT
    hard = suppression_for(BounceKind.HARD, soft_bounces_in_window=0, policy=policy)
    assert hard is SuppressionReason.HARD_BOUNCE
    soft = [
        suppression_for(BounceKind.SOFT, soft_bounces_in_window=n, policy=policy)
        for n in (1, 2, 3, 4)
    ]
    assert soft == [None, None, *[SuppressionReason.SOFT_BOUNCE_THRESHOLD] * 2]


NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC).timestamp()


@given(body=st.binary(max_size=2000), skew=st.integers(min_value=-300, max_value=300))
def test_a_signature_verifies_within_the_window_over_exactly_its_body(body, skew):
    stamp = int(NOW)
    header = signature_header(b"secret-one", stamp, body)
    verify([b"old", b"secret-one"], timestamp=str(stamp), header=header, body=body, now=NOW + skew)
    with pytest.raises(BadWebhookSignature):
        verify([b"secret-one"], timestamp=str(stamp), header=header, body=body + b" ", now=NOW)
    with pytest.raises(BadWebhookSignature):
        verify([b"secret-one"], timestamp=str(stamp), header=header, body=body, now=NOW + 301)
    with pytest.raises(BadWebhookSignature):
        verify([b"other"], timestamp=str(stamp), header=header, body=body, now=NOW)
    with pytest.raises(BadWebhookSignature):
        verify([b"secret-one"], timestamp=str(stamp + 1), header=header, body=body, now=NOW)


def test_retries_back_off_doubling_up_to_a_cap_then_give_up():
    waits = [retry_delay(n) for n in range(1, 10)]
    assert waits[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert all(w is not None and w <= timedelta(hours=6) for w in waits[:7])
    assert waits[7:] == [None, None]
