"""What every admin page shares: the one guard (signed in, role allowed, CSRF on every
form), the route class that turns a refusal into the sign-in redirect or the 403 page, and
rendering with the security headers, in the user's language.

The admin's language (`locale_of`): the one the signed-in user chose (kept with the user),
else the one chosen before signing in (the `cp_lang` cookie set by the sign-in page's switch),
else the browser's Accept-Language, else English. Messages for people are written as catalogue
texts (`N_`) and translated when shown (`say`, `Refused`).

`guarded_router()` builds a router whose every route runs `signed_in` first, so no page can
forget the check: it reads the session cookie, looks the route up in `web.permissions`
(a route the table does not name is refused), and for a POST checks the form's CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from clearpixel.accounts import sessions
from clearpixel.accounts.roles import Permission
from clearpixel.context import Context
from clearpixel.domain.errors import ClearpixelError, Message, NotFound
from clearpixel.i18n import (
    N_,
    SUPPORTED,
    choose_locale,
    environment,
    gettext_for,
    normalise_locale,
    translations,
)
from clearpixel.web.deps import get_ctx
from clearpixel.web.permissions import needed_by

TEMPLATE_DIR = str(Path(__file__).parent / "templates" / "admin")
TEMPLATES = {
    locale: Jinja2Templates(env=environment(locale, TEMPLATE_DIR, compact=False))
    for locale in SUPPORTED
}
SESSION_COOKIE = "cp_admin"
PRE_COOKIE = "cp_pre"
LANG_COOKIE = "cp_lang"
LANGUAGE_NAMES = {"en": "English", "fr": "Français"}  # each in its own language
MAX_ID = 2**31 - 1  # ids are 32-bit integers: a larger one names nothing (404, not 500)
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}
FORM_EXPIRED = N_("This form expired; reload the page.")


class SignInNeeded(Exception):
    """No live session: the browser goes to the sign-in page."""


class Refused(Exception):
    """A refusal shown as a page: `status` (403 for a role that may not, 400 for a bad form,
    404 for a missing thing) and a message for people: a catalogue text (`N_`) with its
    `%(name)s` values, translated when shown."""

    def __init__(self, status: int, message: str, **values: object) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.values = values


def locale_of(request: Request) -> str:
    """The admin's language for this request (see the module docstring)."""
    session = getattr(request.state, "admin_session", None)
    own = normalise_locale(session.locale) if session and session.locale else None
    return own or choose_locale(
        request.cookies.get(LANG_COOKIE) or "", request.headers.get("accept-language", "")
    )


def say(request: Request, message: str, **values: object) -> str:
    """A catalogue text (`N_`) in the request's language, its `%(name)s` filled in."""
    text = gettext_for(locale_of(request))(message)
    return text % values if values else text


def say_n(request: Request, singular: str, plural: str, count: int, **values: object) -> str:
    """A catalogue text with a plural form (`count` chooses it), in the request's language,
    its `%(count)s` and other values filled in (extracted with the keyword `say_n:2,3`)."""
    text = translations(locale_of(request)).ngettext(singular, plural, count)
    return text % {"count": count, **values}


def said(request: Request, exc: Exception | Message) -> str:
    """A service's refusal (or a `Message`) in the request's language: its catalogue text
    (`template`) translated and filled with its values, each `Message` among them translated
    too, and each plain value the catalogue has (a kind, a part of the email). A text the
    catalogue lacks stays English."""
    gettext = gettext_for(locale_of(request))

    def shown(template: str, values: dict[str, object]) -> str:
        if not values:
            return gettext(template)
        filled = {
            k: shown(v.template, v.values)
            if isinstance(v, Message)
            else (gettext(v) if isinstance(v, str) and v else v)
            for k, v in values.items()
        }
        return gettext(template) % filled

    try:
        return shown(getattr(exc, "template", "") or str(exc), getattr(exc, "values", {}))
    except (KeyError, ValueError, TypeError):  # a translation that lost a value: English
        return str(exc)


def secure(request: Request, ctx: Context) -> bool:
    """Secure cookies when the admin is served over https or at the https base URL's host."""
    base = urlsplit(ctx.settings.base_url)
    same_host = base.hostname == request.url.hostname
    return request.url.scheme == "https" or (base.scheme == "https" and same_host)


def render(
    request: Request,
    template: str,
    session: sessions.Session | None,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    """A page from `templates/admin` in the request's language, with the session, a fresh
    CSRF token, the language switch's values and the headers."""
    ctx = get_ctx(request)
    locale = locale_of(request)
    values.setdefault("title", "")
    other = next(code for code in SUPPORTED if code != locale)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return TEMPLATES[locale].TemplateResponse(
        request,
        template,
        {
            "session": session,
            "switch_to": other,
            "switch_name": LANGUAGE_NAMES[other],
            "language_names": LANGUAGE_NAMES,
            "here": here if request.method == "GET" else "/admin",
            "csrf": sessions.csrf_token(ctx, session.nonce) if session else "",
            "policy": ctx.policy,
            "organisation": ctx.settings.organisation,
            "can": (lambda need: session.allows(Permission(need))) if session else None,
            **values,
        },
        status_code=status_code,
        headers=SECURITY_HEADERS,
    )


async def signed_in(request: Request) -> sessions.Session:
    """The guard every admin route runs first. Returns the session; raises SignInNeeded
    (no session), Refused 403 (the role lacks what the route needs, or the route is not in
    the table) or Refused 400 (a POST without this session's CSRF token)."""
    ctx = get_ctx(request)
    session = await run_in_threadpool(
        sessions.read_session, ctx, request.cookies.get(SESSION_COOKIE)
    )
    if session is None:
        raise SignInNeeded
    request.state.admin_session = session
    need = needed_by(request)
    if need is None or not session.allows(need):
        raise Refused(403, N_("Your role (%(role)s) does not allow this page."), role=session.role)
    if request.method not in ("GET", "HEAD"):
        form = await request.form()
        if not sessions.csrf_ok(ctx, session.nonce, str(form.get("csrf") or "")):
            raise Refused(400, FORM_EXPIRED)
    return session


SessionDep = Annotated[sessions.Session, Depends(signed_in)]


class AdminRoute(APIRoute):
    """A route whose refusals come out as pages: SignInNeeded → 303 to the sign-in page
    (with `next`), Refused and NotFound → the message page, a ClearpixelError → 400."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInNeeded:
                return to_login(request)
            except Refused as exc:
                return problem(request, exc.status, say(request, exc.message, **exc.values))
            except NotFound as exc:
                return problem(request, 404, said(request, exc))
            except ClearpixelError as exc:
                return problem(request, 400, said(request, exc))

        return guarded


def guarded_router() -> APIRouter:
    """A router under /admin whose every route runs the guard."""
    return APIRouter(
        prefix="/admin",
        include_in_schema=False,
        route_class=AdminRoute,
        dependencies=[Depends(signed_in)],
    )


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/admin/login?next={quote(target, safe='')}", status_code=303)


def problem(request: Request, status: int, message: str) -> Response:
    session = getattr(request.state, "admin_session", None)
    template = "forbidden.html" if status == 403 else "message.html"
    return render(request, template, session, status_code=status, message=message)


def form_id(value: object) -> int:
    """An id sent in a form field, or 0 (which names nothing, so its lookup answers "not
    found") when the field is not a whole number within the id range: a form can be sent
    with anything in it, and "abc" or a 30-digit number must not reach the database."""
    text = str(value or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) > MAX_ID:
        return 0
    return int(text)


def check_id(value: int) -> int:
    """A path id within the integer range, else Refused 404."""
    if not 1 <= value <= MAX_ID:
        raise Refused(404, N_("Not found."))
    return value


async def in_thread(func: Any, *args: Any, **kwargs: Any) -> Any:
    return await run_in_threadpool(func, *args, **kwargs)
