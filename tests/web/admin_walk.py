"""The admin pages a walk through the whole admin visits (the accessibility scan, the
other-origin check, the stored-markup attack), for an installation holding one list, contact,
campaign and webhook endpoint (`ids`)."""

from __future__ import annotations


def pages(ids: dict[str, int]) -> list[str]:
    return [
        "/admin",
        "/admin/lists",
        f"/admin/lists/{ids['list']}",
        f"/admin/contacts/{ids['contact']}",
        "/admin/consent",
        "/admin/notices",
        "/admin/settings",
        "/admin/account",
        "/admin/users",
        "/admin/apikeys",
        "/admin/import",
        "/admin/campaigns/new",
        f"/admin/campaigns/{ids['campaign']}",
        f"/admin/campaigns/{ids['campaign']}/edit",
        f"/admin/campaigns/{ids['campaign']}/preview?email=ann@example.org",
        f"/admin/webhooks/{ids['endpoint']}/log",
    ]
