"""Request helpers shared by the routers."""

from __future__ import annotations

from fastapi import Request

from clearpixel.context import Context


def get_ctx(request: Request) -> Context:
    """The installation context the app was built with."""
    ctx: Context = request.app.state.ctx
    return ctx
