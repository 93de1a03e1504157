"""What every public page shares (consent, preferences, unsubscribe, signup, "my data"): the
person's language, rendering with the security headers, the pages that say a link is bad or
expired or a form has expired, reading a posted form, the evidence a decision keeps, and the
route class that answers a bad or expired signed link with its page, so no handler repeats it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute

from clearpixel.consent.evidence import web_evidence
from clearpixel.consent.links import InvalidLink
from clearpixel.context import Context
from clearpixel.i18n import N_, choose_locale, environment, gettext_for, normalise_locale
from clearpixel.store.contacts import Contact
from clearpixel.web.deps import get_ctx

TEMPLATES = str(Path(__file__).parent / "templates" / "public")
STATIC = Path(__file__).parent / "static"
ASSETS = {
    "public.css": "text/css; charset=utf-8",
    "preferences.js": "text/javascript",
    "consent.js": "text/javascript",
}
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def request_locale(request: Request, contact: Contact | None = None) -> str:
    asked = normalise_locale(request.query_params.get("lang", ""))
    if asked and contact is None:
        return asked
    return choose_locale(
        contact.locale if contact else "", request.headers.get("accept-language", "")
    )


def render(
    request: Request, ctx: Context, template: str, locale: str, status: int = 200, **values: Any
) -> HTMLResponse:
    env = environment(locale, TEMPLATES)
    html = env.get_template(template).render(
        organisation=ctx.settings.organisation,
        privacy_policy_url=ctx.settings.privacy_policy_url,
        **values,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def message(
    request: Request, ctx: Context, locale: str, status: int, title: str, text: str
) -> HTMLResponse:
    _ = gettext_for(locale)
    return render(request, ctx, "message.html", locale, status, title=_(title), text=_(text))


def link_problem(request: Request, ctx: Context, exc: InvalidLink) -> HTMLResponse:
    locale = request_locale(request)
    if exc.expired:
        return message(
            request,
            ctx,
            locale,
            410,
            N_("This link has expired"),
            N_(
                "Nothing was changed. The link at the bottom of our most recent email always works."
            ),
        )
    return message(
        request,
        ctx,
        locale,
        400,
        N_("This link is not valid"),
        N_("Nothing was changed. Please use the link exactly as it appears in our email."),
    )


def csrf_problem(request: Request, ctx: Context, locale: str) -> HTMLResponse:
    return message(
        request,
        ctx,
        locale,
        403,
        N_("This form has expired"),
        N_("Nothing was changed. Please open the link from the email again."),
    )


def evidence(request: Request, token: str | None = None) -> dict[str, Any]:
    """Truncated IP, user agent, and the page; a token in the URL is replaced by its digest,
    so the ledger never holds a working link."""
    url = str(request.url.replace(query=""))
    if token:
        digest = hashlib.sha256(token.encode()).hexdigest()[:16]
        url = url.replace(token, f"{{link {digest}}}")
    return web_evidence(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        page_url=url,
    )


async def read_form(request: Request) -> dict[str, list[str]]:
    data = await request.form()
    out: dict[str, list[str]] = {}
    for key, value in data.multi_items():
        if isinstance(value, str):
            out.setdefault(key, []).append(value)
    return out


def one(form: dict[str, list[str]], key: str) -> str:
    values = form.get(key)
    return values[0] if values else ""


def notice_ids(form: dict[str, list[str]]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for key, values in form.items():
        if key.startswith("notice_") and values and values[0].isdigit():
            ids[key.removeprefix("notice_")] = int(values[0])
    return ids


class PublicPageRoute(APIRoute):
    """A public page's route: a signed link that is forged, unknown or expired (InvalidLink
    raised by the service) answers the page that says so, in the person's language."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except InvalidLink as exc:
                return link_problem(request, get_ctx(request), exc)

        return guarded
