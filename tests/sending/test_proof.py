# ruff: noqa: E501
"""R22: a template is judged by what it produces. Every construction below tries to give each
non-consenting recipient a personal auto-loaded URL (marketing) or a personal link (consent
request) with template syntax that hides the tag from a look at the source; each is refused,
and the same templates written honestly pass."""

from __future__ import annotations

import pytest

from clearpixel.domain.policy import MessageKind
from clearpixel.sending.compile import TemplateRefused, compile_campaign

CDN = "https://cdn.example"

# (name, HTML fragment): each loads something that depends on the recipient.
EVASIONS = [
    ("jinja comment in the tag opener", f'<{{# #}}img src="{CDN}/{{{{ email }}}}.png">'),
    ("comment splitting the attribute name", f'<img s{{# #}}rc="{CDN}/{{{{ email }}}}.png">'),
    ("raw block around the opener", f'{{% raw %}}<img src="{{% endraw %}}{CDN}/{{{{ email }}}}">'),
    ("set builds the tag name", f'{{% set t = "img" %}}<{{{{ t }}}} src="{CDN}/{{{{ email }}}}">'),
    ("whitespace control", f'<{{{{- "" -}}}}img src="{CDN}/{{{{ email }}}}.png">'),
    (
        "string expression before the tag",
        f'{{{{ "" }}}}<{{{{ "" }}}}img src="{CDN}/{{{{ email }}}}">',
    ),
    ("attribute name from a variable", f'<img {{{{ "src" }}}}="{CDN}/{{{{ email }}}}.png">'),
    (
        "macro writes the tag",
        f'{{% macro pic(u) %}}<img src="{CDN}/{{{{ u }}}}.png">{{% endmacro %}}{{{{ pic(email) }}}}',
    ),
    ("filter map('safe')", "{{ ['<img src=', email, '>']|map('safe')|join }}"),
    ("condition picks the image", f'{{% if vip %}}<img src="{CDN}/a.png">{{% endif %}}'),
    (
        "condition on a value compared to a constant",
        f'{{% if email == "ceo@corp.example" %}}<img src="{CDN}/ceo.png">{{% endif %}}',
    ),
    (
        "condition through a set variable",
        f'{{% set flag = tier == "gold" %}}{{% if flag %}}<img src="{CDN}/g.png">{{% endif %}}',
    ),
    (
        "conditional expression in a static-looking tag",
        f'<{{# x #}}img src="{CDN}/{{{{ "a" if vip else "b" }}}}.png">',
    ),
    ("url-encoded value", f'<{{# #}}img src="{CDN}/?u={{{{ email|urlencode }}}}">'),
    ("length of a value", f'<{{# #}}img src="{CDN}/{{{{ email|length }}}}.png">'),
    ("first letter only", f'<{{# #}}img src="{CDN}/{{{{ email[0] }}}}.png">'),
    ("srcset with a variable", f'<{{# #}}img srcset="{CDN}/a.png 1x, {CDN}/{{{{ email }}}} 2x">'),
    ("entity-encoded value", f'<{{# #}}img src="{CDN}/{{{{ email|replace("@", "&#64;") }}}}">'),
    (
        "inline svg image",
        f'<svg><{{# #}}image href="{CDN}/{{{{ email }}}}.svg"></image></svg>',
    ),
    ("svg use", f'<svg><{{# #}}use href="{CDN}/{{{{ email }}}}.svg#a"></use></svg>'),
    (
        "css image-set in a built style",
        f"<{{# #}}div style=\"background-image:image-set('{CDN}/{{{{ email }}}}.png' 1x)\"></div>",
    ),
    (
        "@import in a built style element",
        f'<{{# #}}style>@import "{CDN}/{{{{ email }}}}.css";</style>',
    ),
    ("link rel=preload", f'<{{# #}}link rel="preload" as="image" href="{CDN}/{{{{ email }}}}">'),
    ("link rel=dns-prefetch", '<{# #}link rel="dns-prefetch" href="//{{ email }}.cdn.example">'),
    ("meta refresh", f'<{{# #}}meta http-equiv="refresh" content="0;url={CDN}/{{{{ email }}}}">'),
    ("img inside noscript", f'<noscript><{{# #}}img src="{CDN}/{{{{ email }}}}"></noscript>'),
    ("img inside template", f'<template><{{# #}}img src="{CDN}/{{{{ email }}}}"></template>'),
    ("iframe", f'<{{# #}}iframe src="{CDN}/{{{{ email }}}}"></iframe>'),
    ("video poster", f'<{{# #}}video poster="{CDN}/{{{{ email }}}}.jpg"></video>'),
    ("object data", f'<{{# #}}object data="{CDN}/{{{{ email }}}}"></object>'),
    ("embed", f'<{{# #}}embed src="{CDN}/{{{{ email }}}}">'),
    ("table background", f'<{{# #}}table background="{CDN}/{{{{ email }}}}.jpg"></table>'),
    ("base href", f'<{{# #}}base href="{CDN}/{{{{ email }}}}/"><img src="a.png">'),
    (
        "vml in a conditional comment",
        f'<!--[if mso]><{{# #}}v:fill src="{CDN}/{{{{ email }}}}.png"/><![endif]-->',
    ),
    (
        "markup from a macro caller",
        f'{{% macro m() %}}{{{{ caller() }}}}{{% endmacro %}}{{% call m() %}}<img src="{CDN}/{{{{ email }}}}">{{% endcall %}}',
    ),
    (
        "loop over a recipient value",
        f'{{% for c in first_name %}}<img src="{CDN}/pixel.png">{{% endfor %}}',
    ),
    (
        "namespace set in a condition",
        f'{{% set ns = namespace(u="a") %}}{{% if vip %}}{{% set ns.u = "b" %}}{{% endif %}}'
        f'<{{# #}}img src="{CDN}/{{{{ ns.u }}}}.png">',
    ),
    ("the preference link as an image", '<{# #}img src="{{ preferences_url }}">'),
    ("the unsubscribe link as an image", '<{# #}img src="{{ unsubscribe_url }}">'),
]


def _wrap(fragment: str, kind: MessageKind) -> str:
    own = "consent_url" if kind is MessageKind.CONSENT_REQUEST else "unsubscribe_url"
    return f"<html><body><p>Hi</p>{fragment}<a href='{{{{ {own} }}}}'>x</a></body></html>"


@pytest.mark.parametrize(("name", "fragment"), EVASIONS, ids=[e[0] for e in EVASIONS])
@pytest.mark.parametrize("kind", [MessageKind.MARKETING, MessageKind.CONSENT_REQUEST])
def test_no_template_syntax_gets_a_personal_autoloaded_url_past_create(name, fragment, kind):
    with pytest.raises(TemplateRefused) as refused:
        compile_campaign(kind=kind, subject="News", html=_wrap(fragment, kind))
    message = str(refused.value)
    assert "(R" not in message
    assert "<" in message or "line" in message, f"the refusal names the element: {message}"


CONSENT_LINK_EVASIONS = [
    ("a plain link with the email", '<a href="https://shop.example/?u={{ email }}">shop</a>'),
    ("the consent link extended", '<a href="{{ consent_url }}&u={{ email }}">choose</a>'),
    ("a link built from parts", '<{# #}a href="https://x.example/{{ first_name }}">x</a>'),
    ("a link only some get", '{% if vip %}<a href="https://x.example/vip">vip</a>{% endif %}'),
    ("a URL written in the text", "<p>Your page: https://x.example/{{ email }}</p>"),
    ("urlize of a built URL", "<p>{{ ('https://x.example/' ~ email)|urlize }}</p>"),
    ("a form action", '<form action="https://x.example/{{ email }}"><button>go</button></form>'),
]


@pytest.mark.parametrize(
    ("name", "fragment"), CONSENT_LINK_EVASIONS, ids=[e[0] for e in CONSENT_LINK_EVASIONS]
)
def test_a_consent_request_carries_no_per_recipient_link_but_its_own(name, fragment):
    html = f"<html><body>{fragment}<a href='{{{{ consent_url }}}}'>c</a></body></html>"
    with pytest.raises(TemplateRefused):
        compile_campaign(kind=MessageKind.CONSENT_REQUEST, subject="May we?", html=html)


def test_a_per_recipient_url_in_the_consent_request_text_part_is_refused():
    with pytest.raises(TemplateRefused, match="text"):
        compile_campaign(
            kind=MessageKind.CONSENT_REQUEST,
            subject="May we?",
            html="<p><a href='{{ consent_url }}'>c</a></p>",
            text="Choose: {{ consent_url }}\nYour page: https://x.example/{{ email }}\n",
        )


HONEST = f"""<html><body>
<img src="{CDN}/logo.png" alt="Hello {{{{ first_name }}}}">
<h1>{{% if first_name %}}Hello {{{{ first_name }}}}{{% else %}}Hello{{% endif %}}</h1>
{{% if locale == "fr" %}}<p>Bonjour</p>{{% endif %}}
{{% for i in range(2) %}}<p><a href="https://shop.example/sale">Sale {{{{ i }}}}</a></p>{{% endfor %}}
<p>{{{{ email }}}} · {{{{ tier|upper }}}}</p>
<a href="{{{{ LINK }}}}">x</a>
</body></html>"""


@pytest.mark.parametrize("kind", [MessageKind.MARKETING, MessageKind.CONSENT_REQUEST])
def test_honest_personalisation_passes(kind):
    own = "consent_url" if kind is MessageKind.CONSENT_REQUEST else "unsubscribe_url"
    html = HONEST.replace("LINK", own)
    if kind is MessageKind.CONSENT_REQUEST:
        html = html.replace('<a href="https://shop.example/sale">', "<a>")
    compiled = compile_campaign(kind=kind, subject="Hi {{ first_name }}", html=html)
    assert compiled.untracked == ()


def test_links_in_loops_and_conditions_are_tracked():
    compiled = compile_campaign(
        kind=MessageKind.MARKETING,
        subject="s",
        html="{% for p in range(3) %}<a href='https://shop.example/a'>{{ p }}</a>{% endfor %}"
        "{% if vip %}<a href='https://shop.example/vip'>vip</a>{% endif %}",
    )
    assert compiled.links == ["https://shop.example/a", "https://shop.example/vip"]


def test_a_link_built_by_template_syntax_is_refused_by_name_and_a_personal_one_noted():
    with pytest.raises(TemplateRefused, match=r"https://shop\.example/x"):
        compile_campaign(
            kind=MessageKind.MARKETING,
            subject="s",
            html='<{# #}a href="https://shop.example/x">x</a>',
        )
    compiled = compile_campaign(
        kind=MessageKind.MARKETING,
        subject="s",
        html='<a href="https://shop.example/account/{{ customer_id }}">account</a>',
    )
    assert compiled.untracked == ("https://shop.example/account/{{ customer_id }}",)


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        " JaVaScRiPt:alert(1)",
        "java&#x09;script:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox(1)",
        "&#106;avascript:alert(1)",
    ],
)
def test_code_running_links_are_refused_naming_the_link(href):
    with pytest.raises(TemplateRefused, match=r"link .* is refused"):
        compile_campaign(
            kind=MessageKind.TRANSACTIONAL, subject="s", html=f'<a href="{href}">x</a>'
        )


def test_hrefs_are_trimmed_before_registration():
    compiled = compile_campaign(
        kind=MessageKind.MARKETING,
        subject="s",
        html='<a href="  https://shop.example/a\n">a</a><a href="https://shop.example/a">b</a>',
    )
    assert compiled.links == ["https://shop.example/a"]
