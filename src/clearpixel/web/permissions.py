"""What each admin page and REST route needs: one table, read by the one admin guard
(`web.admin_base.signed_in`) and the one API key check (`web.api_base.api_key`). A route
missing from the table is refused to everyone (and a test lists every route of the app
against it), so a new page cannot be left open by forgetting it.

Auditors (`Permission.REPORTS` only) read reports, consent coverage, the ledger, proofs,
notices and the check results; they never reach a contact's attributes, imports or sending.
"""

from __future__ import annotations

from starlette.requests import Request

from clearpixel.accounts.roles import Permission

R, A, C, X = Permission.REPORTS, Permission.AUDIENCE, Permission.CAMPAIGNS, Permission.ACCOUNTS

# (method, route path) -> the permission it needs.
NEEDS: dict[tuple[str, str], Permission] = {
    # admin pages
    ("GET", "/admin"): R,
    ("GET", "/admin/"): R,
    ("GET", "/admin/campaigns/{campaign_id}"): R,
    ("GET", "/admin/campaigns/{campaign_id}/progress"): R,
    ("GET", "/admin/campaigns/new"): C,
    ("POST", "/admin/campaigns/new"): C,
    ("POST", "/admin/campaigns/check"): C,
    ("GET", "/admin/campaigns/{campaign_id}/edit"): C,
    ("GET", "/admin/campaigns/{campaign_id}/preview"): C,
    ("POST", "/admin/campaigns/{campaign_id}/test"): C,
    ("POST", "/admin/campaigns/{campaign_id}/send"): C,
    ("POST", "/admin/campaigns/{campaign_id}/cancel"): C,
    ("POST", "/admin/campaigns/{campaign_id}/delete"): C,
    ("POST", "/admin/campaigns/{campaign_id}/schedule"): C,
    ("POST", "/admin/campaigns/{campaign_id}/unschedule"): C,
    ("POST", "/admin/campaigns/{campaign_id}/archive"): C,
    ("POST", "/admin/campaigns/{campaign_id}/restore"): C,
    ("GET", "/admin/lists"): R,
    ("POST", "/admin/lists"): A,
    ("POST", "/admin/lists/{list_id}/rename"): A,
    ("POST", "/admin/lists/{list_id}/archive"): A,
    ("GET", "/admin/import"): A,
    ("POST", "/admin/import"): A,
    ("POST", "/admin/import/{token}/run"): A,
    ("GET", "/admin/import/{token}"): A,
    ("GET", "/admin/import/{token}/progress"): A,
    ("GET", "/admin/import/{token}/refused.csv"): A,
    ("GET", "/admin/lists/{list_id}"): A,
    ("GET", "/admin/contacts/{contact_id}"): A,
    ("GET", "/admin/contacts/{contact_id}/proof"): R,
    ("POST", "/admin/contacts/{contact_id}/decision"): A,
    ("POST", "/admin/contacts/{contact_id}/erase"): X,
    ("GET", "/admin/consent"): R,
    ("GET", "/admin/notices"): R,
    ("GET", "/admin/settings"): R,
    ("POST", "/admin/notices"): X,
    ("POST", "/admin/notices/check"): X,
    ("POST", "/admin/webhooks"): X,
    ("POST", "/admin/webhooks/{endpoint_id}/remove"): X,
    ("GET", "/admin/webhooks/{endpoint_id}/log"): X,
    ("GET", "/admin/account"): R,
    ("POST", "/admin/logout"): R,
    ("POST", "/admin/password"): R,
    ("POST", "/admin/sessions/end"): R,
    ("POST", "/admin/language"): R,
    ("GET", "/admin/users"): X,
    ("GET", "/admin/apikeys"): X,
    ("POST", "/admin/apikeys"): X,
    ("POST", "/admin/apikeys/{key_id}/revoke"): X,
    ("POST", "/admin/users"): X,
    ("POST", "/admin/users/{user_id}"): X,
    # REST API
    ("GET", "/api/v1/lists"): R,
    ("POST", "/api/v1/lists"): A,
    ("GET", "/api/v1/lists/{list_id}"): R,
    ("GET", "/api/v1/lists/{list_id}/contacts"): A,
    ("POST", "/api/v1/lists/{list_id}/contacts"): A,
    ("POST", "/api/v1/lists/{list_id}/contacts/import"): A,
    ("POST", "/api/v1/lists/{list_id}/signups"): A,
    ("POST", "/api/v1/lists/{list_id}/bulk"): A,
    ("GET", "/api/v1/contacts/{contact_id}"): A,
    ("PATCH", "/api/v1/contacts/{contact_id}"): A,
    ("GET", "/api/v1/contacts/{contact_id}/history"): R,
    ("POST", "/api/v1/contacts/{contact_id}/decisions"): A,
    ("GET", "/api/v1/ledger"): R,
    ("GET", "/api/v1/ledger/verify"): R,
    ("GET", "/api/v1/ledger/flags-check"): R,
    ("GET", "/api/v1/reports/consent"): R,
    ("GET", "/api/v1/campaigns"): R,
    ("POST", "/api/v1/campaigns"): C,
    ("GET", "/api/v1/campaigns/{campaign_id}"): R,
    ("POST", "/api/v1/campaigns/{campaign_id}/cancel"): C,
    ("DELETE", "/api/v1/campaigns/{campaign_id}"): C,
    ("POST", "/api/v1/campaigns/{campaign_id}/schedule"): C,
    ("POST", "/api/v1/campaigns/{campaign_id}/unschedule"): C,
    ("POST", "/api/v1/campaigns/{campaign_id}/archive"): C,
    ("POST", "/api/v1/campaigns/{campaign_id}/restore"): C,
    ("POST", "/api/v1/campaigns/{campaign_id}/preview"): C,
    ("POST", "/api/v1/campaigns/{campaign_id}/send"): C,
    ("GET", "/api/v1/campaigns/{campaign_id}/report"): R,
    ("GET", "/api/v1/campaigns/{campaign_id}/deliverability"): R,
    ("GET", "/api/v1/suppressions"): R,
    ("POST", "/api/v1/suppressions"): A,
    ("GET", "/api/v1/suppressions/export"): R,
    ("POST", "/api/v1/suppressions/{email}/remove"): A,
    ("GET", "/api/v1/webhooks"): X,
    ("POST", "/api/v1/webhooks"): X,
    ("DELETE", "/api/v1/webhooks/{endpoint_id}"): X,
    ("GET", "/api/v1/webhooks/{endpoint_id}/log"): X,
    ("POST", "/api/v1/subjects/export"): A,
    ("POST", "/api/v1/subjects/erase"): X,  # erasure: the admin role only
}


def needed(method: str, path: str) -> Permission | None:
    """The permission a route needs, or None when the table does not name it (refuse).
    HEAD is answered like GET."""
    method = "GET" if method == "HEAD" else method
    return NEEDS.get((method, path))


def route_template(request: Request) -> str:
    """The full path template of the route a request matched (`/api/v1/lists/{list_id}`),
    also for a route declared in a router included under a prefix (whose own `path` lacks
    the prefix): the prefix is what the request's path holds before the route's own part."""
    route = request.scope.get("route")
    own = str(getattr(route, "path", ""))
    shape = str(getattr(route, "path_format", own))
    try:
        concrete = shape.format(**{k: str(v) for k, v in request.path_params.items()})
    except (KeyError, IndexError, ValueError):
        return own
    path = str(request.scope.get("path", ""))
    if concrete and path.endswith(concrete):
        return path[: len(path) - len(concrete)] + own
    return own


def needed_by(request: Request) -> Permission | None:
    """The permission the route a request matched needs (None: not in the table, refuse)."""
    return needed(request.method, route_template(request))
