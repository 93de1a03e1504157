"""The signed-in user's own account (sessions, each can be signed out; password) and, for
admins, the users page (create, change role, disable, enable, reset a password). Every
route here runs the admin guard (`admin_base.guarded_router`)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from clearpixel.accounts import sessions, users
from clearpixel.accounts.roles import Role
from clearpixel.domain.errors import ClearpixelError
from clearpixel.i18n import N_
from clearpixel.web.admin_base import (
    LANG_COOKIE,
    SESSION_COOKIE,
    Refused,
    SessionDep,
    check_id,
    guarded_router,
    in_thread,
    render,
    said,
    say,
    say_n,
    secure,
)
from clearpixel.web.deps import get_ctx

router = guarded_router()


def _account_page(request: Request, session: sessions.Session, **values: Any) -> Response:
    ctx = get_ctx(request)
    current = sessions.token_hash(session.nonce)
    return render(
        request,
        "account.html",
        session,
        title=say(request, N_("Your account")),
        sessions=sessions.live_sessions(ctx, session),
        current=current,
        **values,
    )


@router.get("/account")
def account(request: Request, session: SessionDep) -> Response:
    return _account_page(request, session)


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    await in_thread(sessions.sign_out, get_ctx(request), session)
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


@router.post("/sessions/end")
async def end_session(request: Request, session: SessionDep) -> Response:
    """Sign out one of the user's sessions (another browser, or this one)."""
    form = await request.form()
    ref = str(form.get("session") or "")
    await in_thread(sessions.end_session, get_ctx(request), session, ref)
    if ref == sessions.token_hash(session.nonce):
        response = RedirectResponse("/admin/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/admin")
        return response
    return RedirectResponse("/admin/account", status_code=303)


@router.post("/password")
async def change_password(request: Request, session: SessionDep) -> Response:
    """Change one's own password (the current one first); every other session ends."""
    form = await request.form()
    new = str(form.get("new_password") or "")
    if new != str(form.get("confirm_password") or ""):
        raise Refused(400, N_("The two new passwords differ; nothing changed."))
    try:
        ended = await in_thread(
            sessions.change_password,
            get_ctx(request),
            session,
            str(form.get("current_password") or ""),
            new,
        )
    except ClearpixelError as exc:
        raise Refused(400, N_("%(problem)s; nothing changed."), problem=said(request, exc)) from exc
    notice = say_n(
        request,
        "Password changed; %(count)s other session signed out.",
        "Password changed; %(count)s other sessions signed out.",
        ended,
    )
    return _account_page(request, session, notice=notice)


@router.post("/language")
async def choose_language(request: Request, session: SessionDep) -> Response:
    """Keep the admin UI's language the user chose (with the user, and in a cookie for the
    sign-in page), then go back to the page the switch was on."""
    form = await request.form()
    ctx = get_ctx(request)
    chosen = await in_thread(users.set_user_locale, ctx, session.admin_id, str(form.get("lang")))
    back = str(form.get("next") or "/admin")
    target = back if back.startswith("/admin") and not back.startswith("//") else "/admin"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        LANG_COOKIE,
        chosen,
        max_age=365 * 86400,
        httponly=True,
        samesite="lax",
        secure=secure(request, ctx),
        path="/admin",
    )
    return response


def _users_page(
    request: Request, session: sessions.Session, status: int = 200, **values: Any
) -> Response:
    return render(
        request,
        "users.html",
        session,
        status_code=status,
        title=say(request, N_("Users")),
        users=users.all_users(get_ctx(request)),
        roles=[r.value for r in Role],
        **values,
    )


@router.get("/users")
def users_page(request: Request, session: SessionDep) -> Response:
    return _users_page(request, session)


@router.post("/users")
async def create_user(request: Request, session: SessionDep) -> Response:
    form = await request.form()
    try:
        created = await in_thread(
            users.create_user,
            get_ctx(request),
            str(form.get("email") or ""),
            role=str(form.get("role") or ""),
            password=str(form.get("password") or ""),
        )
    except ClearpixelError as exc:
        error = say(request, N_("%(problem)s; nobody was created."), problem=said(request, exc))
        return _users_page(request, session, 400, error=error)
    notice = say(request, N_("User %(name)s created."), name=created.username)
    return _users_page(request, session, notice=notice)


@router.post("/users/{user_id}")
async def change_user(request: Request, user_id: int, session: SessionDep) -> Response:
    """One action on one user: `role`, `disable`, `enable` or `reset` (a new password)."""
    check_id(user_id)
    form = await request.form()
    ctx = get_ctx(request)
    action = str(form.get("action") or "")
    ref = str(user_id)
    try:
        if action == "role":
            found = await in_thread(users.set_user_role, ctx, ref, str(form.get("role") or ""))
            notice = say(
                request, N_("%(name)s is now %(role)s."), name=found.username, role=found.role
            )
        elif action == "disable":
            found = await in_thread(users.disable_user, ctx, ref)
            notice = say(
                request, N_("%(name)s is disabled; their sessions ended."), name=found.username
            )
        elif action == "enable":
            found = await in_thread(users.enable_user, ctx, ref)
            notice = say(request, N_("%(name)s may sign in again."), name=found.username)
        elif action == "reset":
            password = str(form.get("password") or "")
            await in_thread(users.reset_password, ctx, ref, password=password)
            notice = say(request, N_("Password reset; that user's sessions ended."))
        else:
            raise ClearpixelError(f"unknown action {action!r}")
    except ClearpixelError as exc:
        error = say(request, N_("%(problem)s; nothing changed."), problem=said(request, exc))
        return _users_page(request, session, 400, error=error)
    return _users_page(request, session, notice=notice)
