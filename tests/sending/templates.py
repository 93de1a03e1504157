# ruff: noqa: E501
"""Campaign templates used by the send-path tests."""

NEWSLETTER = """<!doctype html>
<html><head><title>News</title>
<style>body { background: url('https://cdn.example.com/bg.png'); }</style>
<link rel="stylesheet" href="https://cdn.example.com/mail.css"></head>
<body background="https://cdn.example.com/body.jpg">
<table><tr><td style="background-image: url(https://cdn.example.com/hero.jpg)">
<img src="https://cdn.example.com/logo.png" srcset="https://cdn.example.com/logo@2x.png 2x" alt="Logo">
</td></tr></table>
<h1>Hello {{ first_name }}</h1>
<p>Your customer number is {{ customer_id }}.</p>
<p><a href="https://shop.example.com/sale?src=mail&amp;x=1">Our sale</a> and
<a href="https://blog.example.com/post">the blog</a>, again
<a href="https://shop.example.com/sale?src=mail&amp;x=1">the sale</a>.</p>
<p><a href="mailto:help@example.com">help@example.com</a> <a href="tel:+331234">call</a>
<a href="#top">top</a> <a href="https://shop.example.com/account/{{ customer_id }}">your account</a></p>
<video poster="https://cdn.example.com/poster.jpg"></video>
<!--[if mso]><v:rect><v:fill src="https://cdn.example.com/outlook.png"/></v:rect><![endif]-->
</body></html>
"""

CONSENT_REQUEST = """<html><body>
<img src="https://cdn.example.com/logo.png" alt="Logo">
<p>Hello {{ first_name }}, may we know when you open our newsletter?</p>
<p><a href="{{ consent_url }}">Choose</a> · <a href="https://example.com/about">About us</a></p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>
"""
