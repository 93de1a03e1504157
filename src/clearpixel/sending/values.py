"""The values a campaign template sees, the same for a real recipient and for the proof's
synthetic contacts (README, "Template variables")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clearpixel.sending.parts import platform_markup

# Names the platform sets; a contact attribute of the same name is only reachable as
# {{ contact.attributes.NAME }}.
RESERVED = frozenset(
    {"contact", "email", "preferences_url", "unsubscribe_url", "consent_url", "attributes"}
)


def template_values(
    email: str, attributes: Mapping[str, Any], platform: Mapping[str, str]
) -> dict[str, Any]:
    """Each attribute whose name is an identifier as a variable of its own, `contact` (email
    and attributes), `email`, and the platform's per-recipient URLs (`platform`, trusted)."""
    values: dict[str, Any] = {
        k: v for k, v in attributes.items() if k not in RESERVED and k.isidentifier()
    }
    values["contact"] = {"email": email, "attributes": attributes}
    values["email"] = email
    for name, url in platform.items():
        values[name] = platform_markup(url)
    return values
