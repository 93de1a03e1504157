"""The public signup form over real HTTP, as a stranger, a mail-bomber and the address's owner
meet it (R18): a submission changes nothing but mailing a confirmation link to the address;
only the owner's POST on that link records anything, once."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import timedelta
from pathlib import Path

import httpx2
import pytest

from clearpixel.consent import record_decision
from clearpixel.consent.signups import purge_signups
from clearpixel.domain.ledger import Method
from clearpixel.store.contacts import UNSUBSCRIBED, find_contact, set_status
from tests.consent.consent_helpers import entries, ledger_count, state
from tests.helpers import make_contacts, make_list
from tests.web.test_consent_http import _hidden


@pytest.fixture
def http(live_server):  # type: ignore[no-untyped-def]
    with httpx2.Client(base_url=live_server.url, follow_redirects=False) as client:
        yield client


LINK = re.compile(r"https://mail\.example\.test(/subscribe/confirm/[A-Za-z0-9_-]+)")


def outbox(ctx) -> list[email.message.EmailMessage]:  # type: ignore[no-untyped-def]
    folder = Path(ctx.settings.data_dir) / "outbox" / "system"
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted(folder.glob("*.eml"))
    ]


def mails_to(ctx, address: str) -> list[email.message.EmailMessage]:  # type: ignore[no-untyped-def]
    return [m for m in outbox(ctx) if m["To"] == address]


def link_in(message) -> str:  # type: ignore[no-untyped-def]
    text = message.get_body(("plain",)).get_content()
    (path,) = set(LINK.findall(text))
    return path


def submit(http, address: str, ticked=("open_tracking",), **headers: str):  # type: ignore[no-untyped-def]
    form = http.get("/subscribe/newsletter").text
    data = {"email": address, "purpose": list(ticked), "lang": "en"}
    data.update({k: _hidden(form, k) for k in ("notice_open_tracking",)})
    return http.post("/subscribe/newsletter", data=data, headers=headers)


def refused_on_a_form(ctx, cid: int) -> None:  # type: ignore[no-untyped-def]
    record_decision(
        ctx.db, cid, revoked=7, method=Method.SIGNUP_FORM, now=ctx.now(), cooldown=ctx.cooldown
    )


def unsubscribed(ctx, cid: int) -> None:  # type: ignore[no-untyped-def]
    with ctx.db.begin() as tx:
        set_status(tx, cid, UNSUBSCRIBED, now=ctx.now())


@pytest.mark.parametrize(
    ("flags", "prepare"),
    [(0, refused_on_a_form), (None, unsubscribed), (1, None)],
    ids=["refused", "unsubscribed", "consented"],
)
def test_a_strangers_submission_with_a_known_address_only_mails_that_address(
    ctx, http, flags, prepare
):
    list_id = make_list(ctx)
    (cid,) = make_contacts(ctx, list_id, [flags])
    if prepare:
        prepare(ctx, cid)
    before = state(ctx, cid)
    stranger = submit(http, "person0@example.org", ticked=("open_tracking", "profiling"))
    newcomer = submit(http, "someone.new@example.org")
    assert stranger.status_code == newcomer.status_code == 200
    assert "Check your inbox" in stranger.text
    assert stranger.text == newcomer.text  # the answer says nothing about the address
    assert state(ctx, cid) == before
    with ctx.db.connect() as conn:
        assert find_contact(conn, list_id, "someone.new@example.org") is None
    (mail,) = mails_to(ctx, "person0@example.org")
    assert "confirm" in mail["Subject"].lower()


def test_the_confirmation_mail_is_untracked_and_its_link_changes_nothing_until_confirmed(ctx, http):
    list_id = make_list(ctx)
    submit(
        http,
        "Ann@Example.org",
        ticked=("open_tracking",),
        referer="https://org.example/join?email=ann@example.org&sid=s3cr3t#top",
    )
    (mail,) = outbox(ctx)
    raw = mail.as_string()
    assert "/o/" not in raw and "/c/" not in raw and "<img" not in raw
    assert "List-Unsubscribe" not in raw
    html = mail.get_body(("html",)).get_content()
    assert set(re.findall(r'href="([^"]+)"', html)) == {f"https://mail.example.test{link_in(mail)}"}

    path = link_in(mail)
    for _ in range(3):  # a link scanner fetching it records nothing
        page = http.get(path)
        assert page.status_code == 200 and "ann@example.org" in page.text
    assert ledger_count(ctx) == 0
    with ctx.db.connect() as conn:
        assert find_contact(conn, list_id, "ann@example.org") is None

    assert http.post(path, data={"nonce": "1.x", "csrf": "forged"}).status_code == 403
    shown = http.get(path).text
    form = {k: _hidden(shown, k) for k in ("nonce", "csrf")}
    done = http.post(path, data=form)
    assert done.status_code == 200 and "accepted" in done.text
    with ctx.db.connect() as conn:
        found = find_contact(conn, list_id, "ann@example.org")
    assert found is not None and found.privacy_flags == 1 and found.status == "subscribed"
    logged = entries(ctx, found.id)
    assert [e.method for e in logged] == ["signup_form"] * 3
    for entry in logged:  # both steps, the page cut to its path, the IP truncated
        form_step = entry.evidence["form"]
        assert form_step["page_url"] == "https://org.example/join"
        assert form_step["ip"] == "127.0.0.0"
        assert form_step["notices"]["open_tracking"]["sha256"]
        assert entry.evidence["confirmation"]["at"]
        assert "s3cr3t" not in str(entry.evidence) and "?" not in form_step["page_url"]

    replay = http.post(path, data=form)
    assert replay.status_code == 409
    assert ledger_count(ctx) == 3


def test_forged_and_expired_links_change_nothing(ctx, http):
    make_list(ctx)
    submit(http, "ann@example.org")
    path = link_in(outbox(ctx)[0])
    token = path.rsplit("/", 1)[1]
    forged = path[: -len(token)] + token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert http.get(forged).status_code == 400
    assert http.post(forged, data={"nonce": "x", "csrf": "y"}).status_code == 400
    shown = http.get(path).text
    form = {k: _hidden(shown, k) for k in ("nonce", "csrf")}
    fixed = ctx.now
    ctx.now = lambda: fixed() + timedelta(hours=49)
    try:
        assert http.get(path).status_code == 410
        assert http.post(path, data=form).status_code == 410
        assert purge_signups(ctx, ctx.now()) == 1
    finally:
        ctx.now = fixed
    assert http.get(path).status_code == 400  # purged: gone for good
    assert ledger_count(ctx) == 0


def test_the_form_cannot_mail_bomb_an_address_or_flood_from_one_network(ctx, http, settings):
    make_list(ctx)
    answers = {submit(http, "victim@example.org").status_code for _ in range(6)}
    assert answers == {200}
    assert len(mails_to(ctx, "victim@example.org")) == settings.signup_mails_per_address_per_day
    statuses = [
        submit(http, f"other{i}@example.org").status_code
        for i in range(settings.signup_forms_per_network_per_hour)
    ]
    assert statuses[-1] == 429
    assert len(outbox(ctx)) < settings.signup_forms_per_network_per_hour + 3
    assert ledger_count(ctx) == 0


def test_single_confirmation_records_new_addresses_at_once_but_never_known_ones(ctx, settings):
    from clearpixel.context import Context
    from clearpixel.web.server import ThreadedServer

    single = Context(
        settings=settings.model_copy(update={"signup_confirmation": "single"}),
        db=ctx.db,
        now=ctx.now,
    )
    list_id = make_list(ctx)
    (cid,) = make_contacts(ctx, list_id, [0])
    before = state(ctx, cid)
    with ThreadedServer(single) as server, httpx2.Client(base_url=server.url) as client:
        done = submit(client, "new@example.org")
        assert "recorded" in done.text
        known = submit(client, "person0@example.org")
        assert "Check your inbox" in known.text
    with ctx.db.connect() as conn:
        new = find_contact(conn, list_id, "new@example.org")
    assert new is not None and new.privacy_flags == 1
    assert state(ctx, cid)[:2] == before[:2]
    assert len(mails_to(ctx, "person0@example.org")) == 1
