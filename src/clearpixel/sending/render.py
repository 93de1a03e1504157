"""Per-recipient rendering: from a compiled campaign, a contact and its tracking mode to the
complete MIME message. No HTML is parsed here; the work is signing tokens, one sandboxed
Jinja render of the campaign's expressions (both parts at once when their links are slots, see
compile.py) and byte joins.

Tokens are signed in two batches (`TokenSigner.sign_links`, `sign_many`), each one still a
full HMAC of its own content.

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
from clearpixel.sending.compile import Compiled, crlf_lines
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
    newline_sequence="\r\n",
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
    """A footer with CRLF line ends (the organisation's name included)."""
    footer: str = crlf_lines(
        FOOTERS.get_template(name).render(
            preferences_url=_trusted(PREFS_MARK), unsubscribe_url=_trusted(UNSUB_MARK), **flags
        )
    )
    return footer


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
        self.link_ids = range(1, len(compiled.links) + 1)

    def message_id(self, contact_id: int) -> str:
        return f"<{self.campaign.public_id}.{contact_id}@{self.layout.domain}>"

    def render(
        self, contact: Recipient, mode: TrackingMode, *, purposes: int, now: datetime
    ) -> Rendered:
        """The complete message for `contact` in `mode` (purposes: the flags granted now)."""
        cid = contact.id
        campaign_id = self.campaign.id
        base = self.base
        values: dict[str, Any] = {
            k: v for k, v in contact.attributes.items() if k not in RESERVED and k.isidentifier()
        }
        values["contact"] = {"email": contact.email, "attributes": dict(contact.attributes)}
        values["email"] = contact.email
        links: list[str] = []
        if self.track_clicks and self.link_ids:
            click = base + urls.CLICK_PREFIX
            tokens = self.signer.sign_links(
                campaign_id=campaign_id, contact_id=cid, link_ids=self.link_ids
            )
            links = [click + token for token in tokens]
        show_preferences = self.kind is MessageKind.MARKETING or mode in (
            TrackingMode.PERSONAL,
            TrackingMode.DELIVERABILITY,
        )
        wanted: list[Token] = []
        if show_preferences:
            wanted.append(Token(TokenKind.PREFERENCES, cid))
        if self.bulk:
            wanted.append(Token(TokenKind.UNSUBSCRIBE, cid))
        if self.kind is MessageKind.CONSENT_REQUEST:
            expires = int((now + self.consent_days).timestamp())
            wanted.append(
                Token(TokenKind.CONSENT, cid, campaign_id=campaign_id, expires_at=expires)
            )
        pixel_token = self._pixel_token(mode, cid, purposes)
        if pixel_token is not None:
            wanted.append(pixel_token)
        signed = iter(self.signer.sign_many(wanted))
        preferences = unsubscribe = unsub_token = ""
        if show_preferences:
            preferences = base + urls.preferences_path(next(signed))
            values["preferences_url"] = _trusted(preferences)
        if self.bulk:
            unsub_token = next(signed)
            unsubscribe = base + urls.unsubscribe_path(unsub_token)
            values["unsubscribe_url"] = _trusted(unsubscribe)
        if self.kind is MessageKind.CONSENT_REQUEST:
            values["consent_url"] = _trusted(base + urls.consent_path(next(signed)))
        if pixel_token is not None:
            pixel = f'<img src="{base}{urls.pixel_path(next(signed))}" {PIXEL_ATTRS}>'
        elif mode is TrackingMode.ANONYMOUS and self.kind is not MessageKind.CONSENT_REQUEST:
            pixel = self.anonymous_tag
        else:
            pixel = ""
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
            html, text = self.compiled.fill_utf8(
                values, links, html_tail=pixel + footer_html, text_tail=footer_text
            )
            subject = self.compiled.subject.render(values) if self.compiled.subject else None
        except (jinja2.TemplateError, ValueError) as exc:
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
            crlf=(self.compiled.text.crlf, self.compiled.html.crlf),
        )
        return Rendered(message_id, data)

    def _pixel_token(self, mode: TrackingMode, cid: int, purposes: int) -> Token | None:
        """The token of a personal or deliverability pixel; None for the other modes."""
        if self.kind is MessageKind.CONSENT_REQUEST:
            return None
        if mode is TrackingMode.PERSONAL:
            return Token(TokenKind.PIXEL, cid, campaign_id=self.campaign.id, purposes=purposes)
        if mode is TrackingMode.DELIVERABILITY:
            return Token(TokenKind.DELIVERABILITY, cid, campaign_id=self.campaign.id)
        return None
