"""Per-recipient rendering: from a compiled campaign, a contact and its tracking mode to the
complete MIME message. No HTML is parsed here; the work is signing tokens, one sandboxed
Jinja render per part and string joins.

What each mode carries (DESIGN §3, §5):
- personal: `<img src="{base}/o/{PIXEL token}.gif">` naming campaign, contact and the purposes
  granted at send time, plus the preference link (R4);
- deliverability: the same tag with a DELIVERABILITY token, plus the preference link (R4);
- anonymous: `{base}/o/a/{campaign public id}.gif`, one byte-identical tag for all (R2);
- none: no pixel. consent_request is always none, links as written, and gets the recipient's
  consent link (a CONSENT token that expires) and unsubscribe link only (R3).
Every registered link becomes `{base}/c/{CLICK token}` except in consent requests (R14).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol

import jinja2
from markupsafe import Markup

from clearpixel.domain import urls
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.policy import MessageKind, TrackingMode
from clearpixel.domain.tokens import Token, TokenKind, TokenSigner
from clearpixel.sending.compile import Compiled
from clearpixel.sending.mime import DkimKey, MimeLayout

PIXEL_ATTRS = 'width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0"'
RESERVED = frozenset(
    {"contact", "email", "preferences_url", "unsubscribe_url", "consent_url", "attributes"}
)
PREFS_MARK = "\x00prefs\x00"
UNSUB_MARK = "\x00unsub\x00"
FOOTERS = jinja2.Environment(
    loader=jinja2.PackageLoader("clearpixel.sending", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    keep_trailing_newline=True,
)


class Recipient(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def email(self) -> str: ...
    @property
    def attributes(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Rendered:
    message_id: str
    data: bytes


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    """What the renderer needs to know of a campaign."""

    id: int
    public_id: str
    from_addr: str
    organisation: str


def _trusted(value: str) -> Markup:
    """Markup the platform built itself (its own URLs and tags), so autoescape leaves it."""
    return Markup(value)  # noqa: S704 - never contains a recipient's value


@cache
def _footer(name: str, **flags: bool | str) -> str:
    return FOOTERS.get_template(name).render(
        preferences_url=_trusted(PREFS_MARK), unsubscribe_url=_trusted(UNSUB_MARK), **flags
    )


def footer_locale(attributes: Mapping[str, Any]) -> str:
    """French for a `locale` attribute starting with fr, English otherwise."""
    value = attributes.get("locale")
    return "fr" if isinstance(value, str) and value.lower().startswith("fr") else "en"


class Renderer:
    """Renders one compiled campaign for any number of recipients."""

    def __init__(
        self,
        campaign: CampaignInfo,
        compiled: Compiled,
        *,
        signer: TokenSigner,
        base_url: str,
        unsubscribe_mailto: str,
        consent_link_days: int = 30,
        dkim_key: DkimKey | None = None,
    ) -> None:
        self.campaign = campaign
        self.compiled = compiled
        self.kind = compiled.kind
        self.signer = signer
        self.base = base_url.rstrip("/")
        self.mailto = unsubscribe_mailto
        self.consent_days = timedelta(days=consent_link_days)
        subject = None if compiled.subject is not None else compiled.subject_text
        self.layout = MimeLayout(from_addr=campaign.from_addr, subject=subject, dkim_key=dkim_key)
        self.anonymous_tag = _trusted(
            f'<img src="{self.base}{urls.anonymous_pixel_path(campaign.public_id)}" {PIXEL_ATTRS}>'
        )
        self.bulk = self.kind in (MessageKind.MARKETING, MessageKind.CONSENT_REQUEST)
        self.track_clicks = self.kind is not MessageKind.CONSENT_REQUEST

    def message_id(self, contact_id: int) -> str:
        return f"<{self.campaign.public_id}.{contact_id}@{self.layout.domain}>"

    def render(
        self, contact: Recipient, mode: TrackingMode, *, purposes: int, now: datetime
    ) -> Rendered:
        """The complete message for `contact` in `mode` (purposes: the flags granted now)."""
        cid = contact.id
        campaign_id = self.campaign.id
        sign = self.signer.sign
        base = self.base
        values: dict[str, Any] = {
            k: v for k, v in contact.attributes.items() if k not in RESERVED and k.isidentifier()
        }
        values["contact"] = {"email": contact.email, "attributes": dict(contact.attributes)}
        values["email"] = contact.email
        if self.track_clicks:
            for link_id, name in enumerate(self.compiled.link_vars, start=1):
                token = sign(Token(TokenKind.CLICK, cid, campaign_id=campaign_id, link_id=link_id))
                values[name] = _trusted(base + urls.click_path(token))
        preferences = unsubscribe = ""
        show_preferences = self.kind is MessageKind.MARKETING or mode in (
            TrackingMode.PERSONAL,
            TrackingMode.DELIVERABILITY,
        )
        if show_preferences:
            preferences = base + urls.preferences_path(sign(Token(TokenKind.PREFERENCES, cid)))
            values["preferences_url"] = _trusted(preferences)
        unsub_token = ""
        if self.bulk:
            unsub_token = sign(Token(TokenKind.UNSUBSCRIBE, cid))
            unsubscribe = base + urls.unsubscribe_path(unsub_token)
            values["unsubscribe_url"] = _trusted(unsubscribe)
        if self.kind is MessageKind.CONSENT_REQUEST:
            expires = int((now + self.consent_days).timestamp())
            consent = sign(
                Token(TokenKind.CONSENT, cid, campaign_id=campaign_id, expires_at=expires)
            )
            values["consent_url"] = _trusted(base + urls.consent_path(consent))
        pixel = self._pixel(mode, cid, purposes)
        locale = footer_locale(contact.attributes)
        flags = {
            "preferences": show_preferences,
            "unsubscribe": self.bulk,
            "personal": mode is TrackingMode.PERSONAL,
            "organisation": self.campaign.organisation,
        }
        footer_html = _footer(f"footer.{locale}.html", **flags)
        footer_text = _footer(f"footer.{locale}.txt", **flags)
        if show_preferences or self.bulk:
            footer_html = footer_html.replace(PREFS_MARK, preferences).replace(
                UNSUB_MARK, unsubscribe
            )
            footer_text = footer_text.replace(PREFS_MARK, preferences).replace(
                UNSUB_MARK, unsubscribe
            )
        try:
            values["_cp_tail"] = _trusted(pixel + footer_html)
            html = self.compiled.html.render(values)
            values["_cp_tail"] = footer_text
            text = self.compiled.text.render(values)
            subject = self.compiled.subject.render(values) if self.compiled.subject else None
        except jinja2.TemplateError as exc:
            raise ClearpixelError(f"template error for contact {cid}: {exc}") from None
        message_id = self.message_id(cid)
        list_unsubscribe = None
        if self.bulk:
            list_unsubscribe = (
                unsubscribe,
                f"mailto:{self.mailto}?subject=unsubscribe-{unsub_token}",
            )
        data = self.layout.build(
            to=contact.email,
            message_id=message_id,
            subject=subject,
            date=now,
            boundary=f"=_{self.campaign.public_id}.{cid}",
            text=text,
            html=html,
            list_unsubscribe=list_unsubscribe,
        )
        return Rendered(message_id, data)

    def _pixel(self, mode: TrackingMode, cid: int, purposes: int) -> str:
        if self.kind is MessageKind.CONSENT_REQUEST or mode is TrackingMode.NONE:
            return ""
        if mode is TrackingMode.ANONYMOUS:
            return self.anonymous_tag
        if mode is TrackingMode.PERSONAL:
            token = Token(TokenKind.PIXEL, cid, campaign_id=self.campaign.id, purposes=purposes)
        else:
            token = Token(TokenKind.DELIVERABILITY, cid, campaign_id=self.campaign.id)
        url = self.base + urls.pixel_path(self.signer.sign(token))
        return f'<img src="{url}" {PIXEL_ATTRS}>'
