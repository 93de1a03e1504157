"""The public URL paths of DESIGN §5, built in one place for the sender and the web layer."""

from __future__ import annotations

PIXEL_PREFIX = "/o/"
ANONYMOUS_PIXEL_PREFIX = "/o/a/"
CLICK_PREFIX = "/c/"


def pixel_path(token: str) -> str:
    """Personal or deliverability pixel."""
    return f"{PIXEL_PREFIX}{token}.gif"


def anonymous_pixel_path(campaign_public_id: str) -> str:
    """The one pixel every anonymous recipient of a campaign gets (R2)."""
    return f"{ANONYMOUS_PIXEL_PREFIX}{campaign_public_id}.gif"


def click_path(token: str) -> str:
    return f"{CLICK_PREFIX}{token}"


def consent_path(token: str) -> str:
    return f"/consent/{token}"


def preferences_path(token: str) -> str:
    return f"/preferences/{token}"


def unsubscribe_path(token: str) -> str:
    return f"/unsubscribe/{token}"


def subscribe_path(list_name: str) -> str:
    return f"/subscribe/{list_name}"


SIGNUP_CONFIRM_PREFIX = "/subscribe/confirm/"


def signup_confirm_path(token: str) -> str:
    """The link of a signup confirmation email."""
    return f"{SIGNUP_CONFIRM_PREFIX}{token}"
