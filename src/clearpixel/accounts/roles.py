"""Who may do what: each admin user and each API key has one role, each page and API route
needs one permission (the table is `web/permissions.py`), and this map says which roles hold
which permission. Pure data: no I/O."""

from __future__ import annotations

from enum import StrEnum

from clearpixel.domain.errors import ClearpixelError


class Role(StrEnum):
    ADMIN = "admin"  # everything, including users, API keys and settings
    EDITOR = "editor"  # lists, imports, campaigns, sending
    AUDITOR = "auditor"  # reports, consent dashboard, ledger, proofs, check results


class Permission(StrEnum):
    REPORTS = "reports"  # read reports, consent coverage, ledger, proofs, notices, check
    AUDIENCE = "audience"  # contacts' attributes, lists, imports, recording choices
    CAMPAIGNS = "campaigns"  # write, preview, test and send campaigns
    ACCOUNTS = "accounts"  # users, API keys, webhooks, suppressions, settings changes


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.EDITOR: frozenset({Permission.REPORTS, Permission.AUDIENCE, Permission.CAMPAIGNS}),
    Role.AUDITOR: frozenset({Permission.REPORTS}),
}


def allows(role: str, need: Permission) -> bool:
    """True when `role` holds `need`; an unknown role holds nothing."""
    try:
        return need in GRANTS[Role(role)]
    except ValueError:
        return False


def parse_role(value: str) -> Role:
    """The role named `value`; raises ClearpixelError naming the known ones."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise ClearpixelError(f"unknown role {value!r} (known: {known})") from None
