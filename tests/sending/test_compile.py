"""Compiling a campaign: R1 refusals naming the tag, exempt kinds, link registration (R13)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.policy import MessageKind, TrackingMode
from clearpixel.domain.tokens import TokenSigner
from clearpixel.sending import campaigns
from clearpixel.sending.compile import TemplateRefused, compile_campaign
from clearpixel.sending.render import CampaignInfo, Renderer
from clearpixel.sending.text import html_to_text
from clearpixel.store.campaigns import get_links
from tests.conftest import FIXED_NOW
from tests.helpers import make_list
from tests.sending.messages import parse, parts, scan

PERSONAL_AUTOLOAD = [
    ('<img src="https://cdn.example.com/{{ customer_id }}.png">', "<img src>"),
    ('<img srcset="https://cdn.example.com/a.png?u={{ email }} 2x">', "<img srcset>"),
    ('<td background="https://cdn.example.com/{{ email }}.jpg"></td>', "<td background>"),
    ('<div style="background:url(https://x.example/{{ first_name }})"></div>', "<div style>"),
    ('<link rel="stylesheet" href="https://x.example/{{ email }}.css">', "<link href>"),
    ('<video poster="https://x.example/p.jpg?{{ email }}"></video>', "<video poster>"),
    ('<input type="image" src="https://x.example/{% if vip %}a{% endif %}.png">', "<input src>"),
    ("<style>.a { background: url(https://x.example/{{ email }}) }</style>", "<style>"),
    ("<div {{ attrs }}>x</div>", "<div> has a template expression among its attributes"),
    (
        '<!--[if mso]><v:fill src="https://x.example/{{ email }}"/><![endif]-->',
        "<v:fill src>",
    ),
    ('<base href="https://x.example/{{ customer_id }}/">', "<base href>"),
    ("<p>{{ bio|safe }}</p>", "|safe"),
    ("{% autoescape false %}<p>{{ bio }}</p>{% endautoescape %}", "autoescape"),
]


@pytest.mark.parametrize(("html", "named"), PERSONAL_AUTOLOAD)
@pytest.mark.parametrize("kind", [MessageKind.MARKETING, MessageKind.CONSENT_REQUEST])
def test_r1_refuses_personal_values_in_autoloaded_urls_naming_the_tag(html, named, kind):
    own = "consent_url" if kind is MessageKind.CONSENT_REQUEST else "unsubscribe_url"
    body = f"<html><body>{html}<a href='{{{{ {own} }}}}'>c</a></body></html>"
    with pytest.raises(TemplateRefused) as info:
        compile_campaign(kind=kind, subject="s", html=body)
    assert named in str(info.value)
    assert "(R" not in str(info.value), "people-facing messages carry no rule codes"


@pytest.mark.parametrize("kind", [MessageKind.TRANSACTIONAL, MessageKind.SECURITY])
def test_exempt_kinds_may_personalise_images(kind):
    compiled = compile_campaign(
        kind=kind, subject="Receipt", html='<img src="https://cdn.example.com/{{ order }}.png">'
    )
    renderer = Renderer(
        CampaignInfo(1, "pub", "shop@example.org", "Org"),
        compiled,
        signer=TokenSigner([b"k" * 32]),
        base_url="https://t.example",
        unsubscribe_mailto="u@example.org",
    )
    contact = SimpleNamespace(id=4, email="a@example.org", attributes={"order": "ORD-77"})
    data = renderer.render(contact, TrackingMode.PERSONAL, purposes=0, now=datetime.now(UTC)).data
    _, html = parts(parse(data))
    assert "https://cdn.example.com/ORD-77.png" in scan(html).autoloaded
    assert "/preferences/" in html, "R4: a personal pixel brings the preference link"
    assert "List-Unsubscribe" not in parse(data)


def test_cli_create_refuses_r1_template_with_exit_2_naming_the_tag(ctx, cli, tmp_path):
    make_list(ctx)
    page = tmp_path / "t.html"
    page.write_text('<p>Hi</p><img src="https://cdn.example.com/u/{{ email }}.png">')
    result = cli(
        "campaign", "create", "--list", "newsletter", "--kind", "marketing",
        "--subject", "Hi", "--html", str(page), ok=False,
    )  # fmt: skip
    assert result.exit_code == 2
    assert "<img src>" in result.output


def test_links_get_stable_ids_in_document_order_skipping_non_http_and_platform_links(ctx):
    make_list(ctx)
    html = (
        '<a href="https://b.example/2">b</a><a href="mailto:x@example.org">m</a>'
        '<a href="tel:+33">t</a><a href="#x">anchor</a><a href="{{ preferences_url }}">p</a>'
        '<!-- <a href="https://hidden.example/">h</a> -->'
        "<a href='https://a.example/1?x=1&amp;y=2'>a</a><area href=https://c.example/3>"
        '<a href="https://b.example/2">b again</a>'
    )
    campaign = campaigns.create_campaign(
        ctx, list_name="newsletter", kind="marketing", subject="s", html=html
    )
    with ctx.db.connect() as conn:
        assert get_links(conn, campaign.id) == {
            1: "https://b.example/2",
            2: "https://a.example/1?x=1&y=2",
            3: "https://c.example/3",
        }
    # compiling again for sending finds the same links
    campaigns.renderer_for(ctx, campaign)


def test_consent_request_refuses_personalised_links_other_than_its_own():
    with pytest.raises(TemplateRefused, match="would differ from one recipient to another"):
        compile_campaign(
            kind=MessageKind.CONSENT_REQUEST,
            subject="s",
            html='<a href="{{ consent_url }}">c</a><a href="https://x.example/{{ email }}">x</a>',
        )
    with pytest.raises(TemplateRefused, match="consent_url"):
        compile_campaign(kind=MessageKind.CONSENT_REQUEST, subject="s", html="<p>hi</p>")


def test_bad_jinja_and_unknown_kind_are_clear_errors(ctx):
    make_list(ctx)
    with pytest.raises(TemplateRefused, match="line 1"):
        compile_campaign(kind=MessageKind.MARKETING, subject="s", html="<p>{{ oops </p>")
    with pytest.raises(ClearpixelError, match="unknown message kind"):
        campaigns.create_campaign(ctx, list_name="newsletter", kind="promo", subject="s", html="x")


def test_html_to_text_keeps_structure_and_links():
    html = (
        "<html><head><style>p{color:red}</style><title>T</title></head><body>"
        "<h1>Hello  {{ first_name }}</h1><p>Read <a href='https://x.example/a'>our post</a>."
        "<br>Second line</p><ul><li>one</li><li>two</li></ul>"
        "<table><tr><td>a</td><td>b</td></tr></table>"
        "<p><a href='https://x.example/b'>https://x.example/b</a> "
        "<a href='mailto:h@example.org'>h@example.org</a> &amp; more</p></body></html>"
    )
    assert html_to_text(html) == (
        "Hello {{ first_name }}\n\n"
        "Read our post (https://x.example/a).\nSecond line\n\n"
        "- one\n- two\n\n"
        "a b\n\n"
        "https://x.example/b h@example.org & more\n"
    )


def test_text_part_derived_from_html_carries_click_links():
    compiled = compile_campaign(
        kind=MessageKind.MARKETING,
        subject="s",
        html="<p>Hi {{ name }}: <a href='https://x.example/a'>go</a></p>",
    )
    text = compiled.text.fill({"name": "<Ann>"}, ["https://t/c/TOKEN"], "")
    assert text == "Hi <Ann>: go (https://t/c/TOKEN)\r\n"  # CRLF, as the message carries it


def test_given_text_part_has_its_registered_links_tracked():
    compiled = compile_campaign(
        kind=MessageKind.MARKETING,
        subject="s",
        html="<a href='https://x.example/a'>go</a><a href='https://x.example/ab'>go</a>",
        text="Go: https://x.example/a and https://x.example/ab, https://other.example/",
    )
    text = compiled.text.fill({}, ["L1", "L2"], "")
    assert text == "Go: L1 and L2, https://other.example/\r\n"


SLOTTED = (
    "<p>Hi {{ name }}</p><a href='https://x.example/a'>a</a>"
    "{% for i in items %}<a href='https://x.example/b'>b{{ i }}</a>{% endfor %}"
    "<a href='https://x.example/a'>again</a>{% if vip %}<a href='https://x.example/c'>c</a>"
    "{% endif %}</body>"
)


@pytest.mark.parametrize("vip", [True, False])
def test_links_in_loops_and_conditions_get_their_own_click_urls(vip):
    """Slots outside blocks are separators; a slot inside a block falls back to a variable.
    Both put each link's URL in its place, in the HTML and the text part."""
    flat = compile_campaign(
        kind=MessageKind.MARKETING, subject="s", html=SLOTTED.split("{% for")[0] + "</body>"
    )
    assert flat.html.slots == (1, 0) and flat.text.slots == (1, 0)
    compiled = compile_campaign(kind=MessageKind.MARKETING, subject="s", html=SLOTTED)
    assert compiled.links == ["https://x.example/a", "https://x.example/b", "https://x.example/c"]
    assert compiled.html.slots is None and compiled.text.slots is None
    values = {"name": "<Ann>", "items": [1, 2], "vip": vip}
    html = compiled.html.fill(dict(values), ["L1", "L2", "L3"], "<tail>")
    c_link = '<a href="L3">c</a>' if vip else ""
    assert html == (
        '<p>Hi &lt;Ann&gt;</p><a href="L1">a</a><a href="L2">b1</a><a href="L2">b2</a>'
        f'<a href="L1">again</a>{c_link}<tail></body>'
    )
    text = compiled.text.fill(dict(values), ["L1", "L2", "L3"], "TAIL")
    assert text.startswith("Hi <Ann>\r\n") and text.endswith("TAIL")
    assert "b1 (L2)" in text and "b2 (L2)" in text and ("c (L3)" in text) is vip


def test_values_cannot_add_or_move_a_slot():
    compiled = compile_campaign(
        kind=MessageKind.MARKETING,
        subject="s",
        html="<p>{{ name }}</p><a href='https://x.example/a'>a</a></body>",
    )
    separator = compiled.html.separator
    assert separator.startswith("@@cp") and len(separator) == 38
    # A value that looks like a slot (even a separator of another compile) stays text.
    other = compile_campaign(
        kind=MessageKind.MARKETING, subject="s", html="<a href='https://x.example/a'>a</a>"
    )
    html = compiled.html.fill({"name": other.html.separator + "x\ue001"}, ["L1"], "T")
    assert html == f'<p>{other.html.separator}x\ue001</p><a href="L1">a</a>T</body>'
    assert other.html.separator != separator
    with pytest.raises(ValueError, match="separator"):
        compiled.html.fill({"name": separator}, ["L1"], "T")


LINE_BREAKY = [
    "<p>Hi {{ name }}</p><a href='https://x.example/a'>a</a></body>",
    "{% for i in items %}<a href='https://x.example/{{ i }}'>{{ name }}</a>{% endfor %}",
    "{% filter replace('\\r\\n', '\\n') %}<p>{{ name }}\n</p>{% endfilter %}"
    "<a href='https://x.example/a'>a</a>",
    "{% macro m() %}{{ caller() }}\n{% endmacro %}{% call m() %}{{ name }}\n{% endcall %}",
]


@pytest.mark.parametrize("html", LINE_BREAKY)
@given(name=st.text(alphabet="ab\r\n\u00e9 ", max_size=12))
def test_every_line_end_of_a_message_is_crlf_whatever_the_values(html, name):
    compiled = compile_campaign(kind=MessageKind.MARKETING, subject="s", html=html)
    renderer = Renderer(
        CampaignInfo(1, "pub", "News <n@example.org>", "Org\nName"),
        compiled,
        signer=TokenSigner([b"k" * 32]),
        base_url="https://t.example",
        unsubscribe_mailto="u@example.org",
    )
    contact = SimpleNamespace(id=3, email="a@example.org", attributes={"name": name, "items": [1]})
    data = renderer.render(contact, TrackingMode.PERSONAL, purposes=1, now=FIXED_NOW).data
    assert data.count(b"\n") == data.count(b"\r\n") == data.count(b"\r")
    _, html_part = parts(parse(data))
    assert name.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n") in html_part


TRICKY = [
    "<html><body><p>{{ name }}</p><a href='https://x.example/a'>a</a></body></html>\n",
    "{% set greeting = 'Hi' %}<p>{{ greeting }} {{ name }}</p><a href='https://x.example/a'>a"
    "</a>\r\n",
    "<p>{{ name }} & {{ '}}' }} {{ name|upper }}</p>\n<a href='https://x.example/a'>a</a>\n"
    "<p>{{- name }} x {{ name -}} \r\n y</p><a href='https://x.example/b'>b</a>\n"
    "{# note #}<p>{{ name }}</p>{% set n = name ~ '!' %}<a href='https://x.example/a'>a</a>"
    "<p>{{ n }} {{ '{{' }}</p>\n\n<a href='https://x.example/b'>b</a>\r\r<p>é {{ name }}</p>",
]


@pytest.mark.parametrize("html", TRICKY)
def test_constants_left_out_of_the_render_change_nothing(html):
    """The same template, once with its slots as separators (constants kept ready) and once
    wrapped in a block (slots as variables, everything rendered): identical parts."""
    fast = compile_campaign(kind=MessageKind.MARKETING, subject="s", html=html, text=html)
    body, end = re.fullmatch(r"(.*?)(\r\n|\r|\n)?", html, re.S).groups()
    wrapped = "{% if true %}" + body + "{% endif %}" + (end or "")
    slow = compile_campaign(kind=MessageKind.MARKETING, subject="s", html=wrapped, text=wrapped)
    assert fast.html.slots is not None and slow.html.slots is None
    for name in ["<Ann>", "Zoé\nline", ""]:
        links = [f"L{i}" for i in range(1, len(fast.links) + 1)]
        for part in ("html", "text"):
            a, b = getattr(fast, part), getattr(slow, part)
            expected = b.fill({"name": name}, links, "T·")
            assert a.fill({"name": name}, links, "T·") == expected
            assert a.fill_utf8({"name": name}, links, "T·") == expected.encode()
        assert fast.both is not None
        both = fast.fill_utf8({"name": name}, links, html_tail="H·", text_tail="T·")
        assert both == (
            slow.html.fill({"name": name}, links, "H·").encode(),
            slow.text.fill({"name": name}, links, "T·").encode(),
        )


def test_a_link_in_a_raw_block_gets_its_click_url():
    html = "{% raw %}<a href='https://x.example/a'>{{ x }}</a>{% endraw %} {{ name }}"
    compiled = compile_campaign(kind=MessageKind.MARKETING, subject="s", html=html)
    assert compiled.html.fill({"name": "N"}, ["L1"], "T") == '<a href="L1">{{ x }}</a> NT'
