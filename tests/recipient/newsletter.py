# ruff: noqa: E501
"""The templates of the recipient matrix: a realistic table-layout newsletter (images,
several links, a link inside a loop, personal values) and a consent request."""

NEWSLETTER = """<!doctype html>
<html lang="{{ locale }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>The Monthly Dispatch</title>
<style>body { margin:0; background:#f4f4f4; } .btn { background:#0057b8; color:#fff; padding:8px 14px; }</style>
</head>
<body>
<table role="presentation" width="600" cellpadding="0" cellspacing="0" align="center" style="background:#ffffff">
<tr><td style="padding:24px"><img src="https://cdn.example.com/brand/logo.png" width="180" alt="The Monthly Dispatch"></td></tr>
<tr><td style="padding:0 24px">
<h1>{% if locale == "fr" %}Bonjour{% else %}Hello{% endif %} {{ first_name }},</h1>
<p>{% if locale == "fr" %}Voici les nouvelles du mois.{% else %}Here is what happened this month.{% endif %}</p>
</td></tr>
{% for n in range(1, 4) %}
<tr><td style="padding:16px 24px;border-top:1px solid #eeeeee">
<img src="https://cdn.example.com/articles/hero.jpg" width="552" alt="Article">
<h2><a href="https://www.example.com/articles?utm_source=newsletter&amp;utm_medium=email">Story {{ n }}</a></h2>
<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>
</td></tr>
{% endfor %}
<tr><td style="padding:24px">
<a class="btn" href="https://shop.example.com/november">November collection</a>
<a href="https://blog.example.com/behind-the-scenes">Behind the scenes</a>
<a href="mailto:editor@example.com">editor@example.com</a>
</td></tr>
</table>
</body></html>
"""

CONSENT_REQUEST = """<!doctype html>
<html lang="{{ locale }}"><head><meta charset="utf-8"><title>May we?</title></head>
<body>
<table role="presentation" width="600" align="center"><tr><td>
<img src="https://cdn.example.com/brand/logo.png" width="180" alt="The Monthly Dispatch">
<p>{% if locale == "fr" %}Bonjour {{ first_name }}, pouvons-nous savoir quand vous ouvrez nos e-mails ?{% else %}Hello {{ first_name }}, may we know when you open our emails?{% endif %}</p>
<p><a href="{{ consent_url }}">{% if locale == "fr" %}Choisir{% else %}Choose{% endif %}</a></p>
<p><a href="https://www.example.com/about">About us</a> · <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</td></tr></table>
</body></html>
"""
