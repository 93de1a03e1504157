"""Delivery: DKIM, retries on 4xx, recorded failure on 5xx, resume after kill -9, outbox,
inactivity suppression, and the CLI end to end."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import date, timedelta

import dkim
import pytest

from clearpixel.domain.errors import ClearpixelError
from clearpixel.sending import campaigns
from clearpixel.sending.transports import OutboxTransport, SmtpConfig, SmtpTransport
from clearpixel.store.contacts import set_status
from clearpixel.store.schema import contacts
from clearpixel.store.sends import count_by_status, get_send
from tests.conftest import FIXED_NOW
from tests.helpers import make_list
from tests.sending.conftest import add_contacts
from tests.sending.messages import parse, parts

HTML = "<html><body><p>Hi {{ email }}</p><a href='https://x.example/a'>a</a></body></html>"


def _campaign(ctx, people, *, kind="marketing"):
    list_id = make_list(ctx)
    ids = add_contacts(ctx, list_id, people)
    campaign = campaigns.create_campaign(
        ctx, list_name="newsletter", kind=kind, subject="Hello", html=HTML
    )
    return campaign, ids


def _probable_prime(bits: int) -> int:
    while True:
        n = secrets.randbits(bits) | (3 << (bits - 2)) | 1
        if all(n % p for p in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)) and _miller_rabin(n):
            return n


def _miller_rabin(n: int, rounds: int = 24) -> bool:
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(rounds):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 128:
        return bytes([tag, size]) + body
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + body


def _der_ints(*values: int) -> bytes:
    body = b"".join(_der(2, v.to_bytes(v.bit_length() // 8 + 1, "big")) for v in values)
    return _der(0x30, body)


def rsa_key_pair() -> tuple[bytes, bytes]:
    """(PEM private key, DNS TXT record) of a fresh 1024-bit RSA key, in plain Python."""
    e = 65537
    while True:
        p, q = _probable_prime(512), _probable_prime(512)
        phi = (p - 1) * (q - 1)
        if p != q and phi % e:
            break
    n, d = p * q, pow(e, -1, phi)
    private = _der_ints(0, n, e, d, p, q, d % (p - 1), d % (q - 1), pow(q, -1, p))
    pem = (
        b"-----BEGIN RSA PRIVATE KEY-----\n"
        + base64.encodebytes(private)
        + b"-----END RSA PRIVATE KEY-----\n"
    )
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(_der_ints(n, e))


def test_dkim_signature_covers_list_unsubscribe_and_verifies(ctx, tmp_path):
    private, record = rsa_key_pair()
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(private)
    ctx.settings = ctx.settings.model_copy(
        update={"dkim_key_file": key_file, "dkim_selector": "mail", "dkim_domain": "example.org"}
    )
    campaign, _ = _campaign(ctx, [("a@example.org", 1, {"first_name": "Ann"})])
    signed = campaigns.preview(ctx, campaign.id, "a@example.org")
    header = parse(signed)["DKIM-Signature"]
    signed_fields = header.split("h=")[1].split(";")[0].replace(" ", "").lower().split(":")
    assert "list-unsubscribe" in signed_fields and "list-unsubscribe-post" in signed_fields

    def dnsfunc(name, timeout=5):
        assert name == b"mail._domainkey.example.org."
        return record

    assert dkim.verify(signed, dnsfunc=dnsfunc)
    tampered = signed.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"X: y")
    assert not dkim.verify(tampered, dnsfunc=dnsfunc)


def test_a_451_is_retried_and_the_message_delivered_once(ctx, flaky_smtp_server):
    campaign, ids = _campaign(ctx, [(f"p{i}@example.org", 1, {}) for i in range(3)])
    report = campaigns.send_campaign(
        ctx, campaign.id, SmtpTransport(SmtpConfig.parse(flaky_smtp_server.url)), concurrency=2
    )
    assert report.sent == 3
    assert sorted(flaky_smtp_server.handler.deferred) == sorted(ids)
    assert sorted(m.recipients[0] for m in flaky_smtp_server.messages) == sorted(ids)


def test_a_550_is_recorded_as_failed_with_the_error_and_not_retried(ctx, smtp_server):
    smtp_server.handler.refuse.add("bad@example.org")
    campaign, ids = _campaign(ctx, [("bad@example.org", 1, {}), ("ok@example.org", 1, {})])
    transport = SmtpTransport(SmtpConfig.parse(smtp_server.url))
    report = campaigns.send_campaign(ctx, campaign.id, transport)
    assert (report.sent, report.failed) == (1, 1)
    with ctx.db.connect() as conn:
        row = get_send(conn, campaign.id, ids["bad@example.org"])
    assert row["status"] == "failed" and "550" in row["error"]
    again = campaigns.send_campaign(ctx, campaign.id, transport)
    assert again.sent == 0 and len(smtp_server.messages) == 1


def test_unsubscribed_contacts_never_get_marketing_mail(ctx, tmp_path):
    campaign, ids = _campaign(ctx, [("in@example.org", None, {}), ("out@example.org", 1, {})])
    with ctx.db.begin() as tx:
        set_status(tx, ids["out@example.org"], "unsubscribed", now=FIXED_NOW)
    campaigns.send_campaign(ctx, campaign.id, OutboxTransport(tmp_path / "box"))
    assert sorted(p.name for p in (tmp_path / "box").iterdir()) == [f"{ids['in@example.org']}.eml"]


def test_suppress_inactive_skips_old_activity_and_keeps_contacts_never_seen(ctx, tmp_path):
    campaign, ids = _campaign(
        ctx,
        [
            ("old@example.org", 1, {}),
            ("recent-click@example.org", 1, {}),
            ("never-seen@example.org", None, {}),
        ],
    )
    old = date(2026, 1, 1)
    with ctx.db.begin() as tx:
        tx.execute(
            contacts.update()
            .where(contacts.c.id == ids["old@example.org"])
            .values(last_open_date=old, last_click_date=old)
        )
        tx.execute(
            contacts.update()
            .where(contacts.c.id == ids["recent-click@example.org"])
            .values(last_open_date=old, last_click_date=FIXED_NOW.date() - timedelta(days=3))
        )
    campaigns.send_campaign(
        ctx, campaign.id, OutboxTransport(tmp_path / "box"), suppress_inactive_days=90
    )
    sent = sorted(p.name for p in (tmp_path / "box").iterdir())
    assert sent == sorted(
        f"{ids[e]}.eml" for e in ("recent-click@example.org", "never-seen@example.org")
    )


def test_cli_create_ls_preview_send_to_the_default_outbox(ctx, cli, settings, tmp_path):
    list_id = make_list(ctx)
    ids = add_contacts(
        ctx, list_id, [("a@example.org", 1, {"first_name": "Ann"}), ("b@example.org", 0, {})]
    )
    page = tmp_path / "t.html"
    page.write_text(HTML)
    created = cli(
        "campaign", "create", "--list", "newsletter", "--kind", "marketing",
        "--subject", "Hello", "--html", str(page), "--from", "News <news@example.org>",
    )  # fmt: skip
    campaign_id = created.output.strip()
    listed = cli("campaign", "ls", "--json")
    assert f'"id": {campaign_id}' in listed.output and '"status": "draft"' in listed.output
    preview = cli("campaign", "preview", campaign_id, "--email", "a@example.org")
    message = parse(preview.stdout_bytes)
    assert message["To"] == "a@example.org"
    assert "/o/" in parts(message)[1]
    sent = cli("campaign", "send", campaign_id)
    assert "2 sent now" in sent.output
    campaign = campaigns.get_campaign(ctx, campaign_id)
    box = settings.data_dir / "outbox" / campaign.public_id
    assert sorted(p.name for p in box.iterdir()) == sorted(f"{i}.eml" for i in ids.values())
    assert campaigns.sent_by_mode(ctx, campaign.id) == {"anonymous": 1, "personal": 1}
    assert "0 sent now" in cli("campaign", "send", campaign_id).output
    assert cli("campaign", "ls", "--json").output.count('"status": "sent"') == 1


def test_send_resumes_after_kill_9_with_no_gap_and_at_most_in_flight_twice(
    ctx, cli_env, smtp_server
):
    people = [(f"r{i:02d}@example.org", [None, 0, 1, 3][i % 4], {}) for i in range(40)]
    campaign, ids = _campaign(ctx, people)
    concurrency = 3
    command = [
        sys.executable, "-c", "from clearpixel.cli import main; main()",
        "campaign", "send", str(campaign.id), "--smtp", smtp_server.url,
        "--rate", "10", "--concurrency", str(concurrency),
    ]  # fmt: skip
    env = {**os.environ, **cli_env}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while len(smtp_server.messages) < 10:
        assert process.poll() is None, "the send finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    first = len(smtp_server.messages)
    assert first < len(people)
    with ctx.db.connect() as conn:
        assert count_by_status(conn, campaign.id).get("pending", 0) > 0
    resumed = subprocess.run(
        [*command[:-4], "--concurrency", str(concurrency)],
        env=env, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr.decode()
    received = [m.recipients[0] for m in smtp_server.messages]
    assert set(received) == set(ids), "no gap: every recipient got the campaign"
    duplicates = len(received) - len(set(received))
    assert duplicates <= concurrency
    with ctx.db.connect() as conn:
        assert count_by_status(conn, campaign.id) == {"sent": len(people)}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mx.example:2525", ("mx.example", 2525, False, None, None)),
        ("smtps://u:p%40ss@mx.example", ("mx.example", 465, True, False, "p@ss")),
        ("smtp+starttls://u:pw@mx.example", ("mx.example", 587, False, True, "pw")),
    ],
)
def test_smtp_urls(url, expected):
    config = SmtpConfig.parse(url)
    assert (config.host, config.port, config.use_tls, config.start_tls, config.password) == (
        expected
    )


def test_unreachable_server_defers_everything_and_a_rerun_delivers(ctx, smtp_server):
    campaign, ids = _campaign(ctx, [(f"d{i}@example.org", 1, {}) for i in range(3)])
    sock = __import__("socket").socket()
    sock.bind(("127.0.0.1", 0))
    closed_port = sock.getsockname()[1]
    sock.close()
    down = SmtpTransport(SmtpConfig.parse(f"smtp://127.0.0.1:{closed_port}?backoff=0.001"))
    report = campaigns.send_campaign(ctx, campaign.id, down)
    assert report.deferred == 3 and report.sent == 0
    with ctx.db.connect() as conn:
        assert count_by_status(conn, campaign.id) == {"pending": 3}
        assert get_send(conn, campaign.id, ids["d0@example.org"])["attempts"] == 1
    stopped = campaigns.get_campaign(ctx, campaign.id)
    assert stopped.status == "failed" and "3 message(s) deferred" in stopped.status_detail
    up = SmtpTransport(SmtpConfig.parse(smtp_server.url))
    assert campaigns.send_campaign(ctx, campaign.id, up).sent == 3
    assert campaigns.get_campaign(ctx, campaign.id).status == "sent"


def test_the_sandbox_refuses_unsafe_template_access_with_a_clear_error(ctx, tmp_path):
    list_id = make_list(ctx)
    add_contacts(ctx, list_id, [("a@example.org", 1, {})])
    with pytest.raises(ClearpixelError, match=r"__class__.* is unsafe"):
        campaigns.create_campaign(
            ctx, list_name="newsletter", kind="marketing", subject="s",
            html="<p>{{ ''.__class__.__mro__[1].__subclasses__() }}</p>",
        )  # fmt: skip
    assert campaigns.all_campaigns(ctx) == [], "nothing stored"


def test_a_campaign_that_found_no_recipient_stays_open_for_a_later_run(ctx, tmp_path):
    campaign, _ = _campaign(ctx, [])
    box = OutboxTransport(tmp_path / "box")
    assert campaigns.send_campaign(ctx, campaign.id, box).sent == 0
    assert campaigns.get_campaign(ctx, campaign.id).status == "draft"
    add_contacts(ctx, campaign.list_id, [("late@example.org", None, {})])
    assert campaigns.send_campaign(ctx, campaign.id, box).sent == 1
    assert campaigns.get_campaign(ctx, campaign.id).status == "sent"
    add_contacts(ctx, campaign.list_id, [("later@example.org", None, {})])
    assert campaigns.send_campaign(ctx, campaign.id, box).sent == 0, "complete: rows only"
