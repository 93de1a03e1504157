"""What `campaign create` refuses before anything is stored: unknown variables (with their
line), line breaks in header values, and templates that would run away at render time (loop,
output, size and time limits), from the CLI, the API and the service alike."""

from __future__ import annotations

import time

import pytest

from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.policy import MessageKind
from clearpixel.sending import campaigns, sandbox
from clearpixel.sending.compile import TemplateRefused, compile_campaign
from clearpixel.store.schema import campaign_links
from tests.helpers import make_list
from tests.sending.conftest import add_contacts


def _list(ctx):  # type: ignore[no-untyped-def]
    list_id = make_list(ctx)
    add_contacts(ctx, list_id, [("a@example.org", None, {"first_name": "Ann", "locale": "fr"})])
    return list_id


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>\n{{ attributes.locale }}</p>", "line 2: there is no variable 'attributes'"),
        ("<p>{{ nosuchvar }}</p>", "unknown variable 'nosuchvar'"),
        ("<p>{{ contact.attributes.nope }}</p>", "unknown variable 'contact.attributes.nope'"),
        ("<p>{{ contact.phone }}</p>", "contact has no 'phone'"),
        ("<p>{{ consent_url }}</p>", "does not exist in marketing emails"),
    ],
)
def test_unknown_variables_are_refused_at_create_with_name_and_line(ctx, html, expected):
    _list(ctx)
    with pytest.raises(TemplateRefused, match=expected):
        campaigns.create_campaign(
            ctx, list_name="newsletter", kind="marketing", subject="s", html=html
        )
    assert campaigns.all_campaigns(ctx) == []


def test_known_attributes_and_platform_names_pass(ctx):
    _list(ctx)
    campaign = campaigns.create_campaign(
        ctx,
        list_name="newsletter",
        kind="marketing",
        subject="{{ first_name }}",
        html="<p>{{ first_name }} {{ locale }} {{ contact.attributes.locale }} {{ email }}"
        "<a href='{{ preferences_url }}'>p</a> {% for i in range(2) %}{{ i }}{% endfor %}</p>",
    )
    assert campaign.status == "draft"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("from_addr", "news@example.org\r\nBcc: all@example.net"),
        ("from_addr", "News\n <news@example.org>"),
        ("subject", "Hello\r\nBcc: all@example.net"),
        ("name", "x\ny"),
    ],
)
def test_a_line_break_in_a_header_value_is_refused(ctx, field, value):
    _list(ctx)
    values = {"subject": "s", field: value}
    with pytest.raises(ClearpixelError, match="line break"):
        campaigns.create_campaign(
            ctx, list_name="newsletter", kind="marketing", html="<p>x</p>", **values
        )


def test_api_from_addr_with_a_newline_is_a_clear_400_not_a_second_header(ctx):
    from fastapi.testclient import TestClient

    from clearpixel.accounts import api_keys
    from clearpixel.web.app import create_app

    list_id = _list(ctx)
    _, key = api_keys.create_api_key(ctx, "t")
    with TestClient(create_app(ctx)) as client:
        answer = client.post(
            "/api/v1/campaigns",
            headers={"Authorization": f"Bearer {key}"},
            json={
                "list_id": list_id,
                "kind": "marketing",
                "subject": "s",
                "html": "<p>x</p>",
                "from_addr": "a@example.org\nFrom: boss@example.org",
            },
        )
    assert answer.status_code == 400
    assert "line break" in answer.json()["error"]["message"]


RUNAWAY = [
    (
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        "limit",
    ),
    ("{{ 'x' * 1000000000 }}", "output limit"),
    ("{% set big = 'x' * 4000 %}{% for i in range(99000) %}{{ big }}{% endfor %}",
     "output limit"),
    ("{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
     "{% endfor %}{{ ns.s }}", "limit"),
    ("{{ 'x'|center(1000000000) }}", "at most"),
    ("{{ '%1000000000d'|format(1) }}", "width"),
    ("{{ 10 ** 100000 }}", "number too large"),
    ("{{ lipsum(100000) }}", "at most"),
    ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "recursion"),
]  # fmt: skip


@pytest.mark.parametrize(("html", "named"), RUNAWAY)
def test_a_runaway_template_is_refused_naming_the_limit_quickly(html, named):
    started = time.monotonic()
    with pytest.raises((TemplateRefused, sandbox.LimitExceeded), match=named):
        compile_campaign(kind=MessageKind.TRANSACTIONAL, subject="s", html=html)
    assert time.monotonic() - started < 30


def test_preview_of_a_runaway_template_stops_at_the_time_limit(ctx):
    """A template that passes create (cheap for the sample contacts) but runs away for one
    real contact's value: the preview stops with the limit named."""
    list_id = make_list(ctx)
    add_contacts(ctx, list_id, [("big@example.org", None, {"n": "99999"})])
    # the sample contacts loop (4711 // 100) ** 2 times: accepted; this contact 999 ** 2
    campaign = campaigns.create_campaign(
        ctx,
        list_name="newsletter",
        kind="transactional",
        subject="s",
        html="{% for i in range(n|int // 100) %}{% for j in range(n|int // 100) %}{% endfor %}"
        "{% endfor %}",
    )
    with pytest.raises(ClearpixelError, match="loop limit"):
        campaigns.preview(ctx, campaign.id, "big@example.org")


def test_preview_writes_nothing(ctx):
    _list(ctx)
    campaign = campaigns.create_campaign(
        ctx, list_name="newsletter", kind="marketing", subject="s",
        html="<a href='https://shop.example/a'>a</a>",
    )  # fmt: skip
    with ctx.db.begin() as tx:
        tx.execute(campaign_links.delete())
    with pytest.raises(ClearpixelError, match="other links than those registered"):
        campaigns.preview(ctx, campaign.id, "a@example.org")
    with ctx.db.connect() as conn:
        assert conn.execute(campaign_links.select()).all() == [], "preview registered nothing"
