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

from clearpixel.domain import urls
from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.modes import mode_of
from clearpixel.domain.policy import MessageKind, TrackingMode
from clearpixel.domain.tokens import Token, TokenKind, TokenSigner
from clearpixel.sending import sandbox
from clearpixel.sending.addresses import Mailbox, mailbox
from clearpixel.sending.compile import Compiled
from clearpixel.sending.mime import DkimKey, MimeLayout
from clearpixel.sending.parts import crlf_lines, platform_markup
from clearpixel.sending.values import template_values

PIXEL_ATTRS = 'width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0"'
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
    to: Mailbox


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    """What the renderer needs to know of a campaign."""

    id: int
    public_id: str
    from_addr: str
    organisation: str


@cache
def _footer(name: str, **flags: bool | str) -> str:
    """A footer with CRLF line ends (the organisation's name included)."""
    footer: str = crlf_lines(
        FOOTERS.get_template(name).render(
            preferences_url=platform_markup(PREFS_MARK),
            unsubscribe_url=platform_markup(UNSUB_MARK),
            **flags,
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
        # A plain str: the HTML tail is joined as text (a Markup here would escape the footer)
        self.anonymous_tag = (
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
        """The complete message for `contact` in `mode` (purposes: the flags granted now).
        Raises ClearpixelError (template error, render limit, address that cannot be
        written): a failure of this recipient alone."""
        cid = contact.id
        campaign_id = self.campaign.id
        base = self.base
        to = mailbox(contact.email)
        links: list[str] = []
        if self.track_clicks and self.link_ids:
            click = base + urls.CLICK_PREFIX
            tokens = self.signer.sign_links(
                campaign_id=campaign_id, contact_id=cid, link_ids=self.link_ids
            )
            links = [click + token for token in tokens]
        consent = self.kind is MessageKind.CONSENT_REQUEST
        wanted: list[Token] = []
        if not consent:
            wanted.append(Token(TokenKind.PREFERENCES, cid))
        if self.bulk:
            wanted.append(Token(TokenKind.UNSUBSCRIBE, cid))
        if consent:
            expires = int((now + self.consent_days).timestamp())
            wanted.append(
                Token(TokenKind.CONSENT, cid, campaign_id=campaign_id, expires_at=expires)
            )
        pixel_token = self._pixel_token(mode, cid, purposes)
        if pixel_token is not None:
            wanted.append(pixel_token)
        signed = iter(self.signer.sign_many(wanted))
        platform: dict[str, str] = {}
        preferences = unsubscribe = unsub_token = ""
        if not consent:
            preferences = platform["preferences_url"] = base + urls.preferences_path(next(signed))
        if self.bulk:
            unsub_token = next(signed)
            unsubscribe = platform["unsubscribe_url"] = base + urls.unsubscribe_path(unsub_token)
        if consent:
            platform["consent_url"] = base + urls.consent_path(next(signed))
        if pixel_token is not None:
            pixel = f'<img src="{base}{urls.pixel_path(next(signed))}" {PIXEL_ATTRS}>'
        elif mode is TrackingMode.ANONYMOUS and not consent:
            pixel = self.anonymous_tag
        else:
            pixel = ""
        values = template_values(contact.email, contact.attributes, platform)
        footer_html, footer_text = self._footers(
            footer_locale(contact.attributes), mode, preferences, unsubscribe
        )
        try:
            html, text = self.compiled.fill_utf8(
                values, links, html_tail=pixel + footer_html, text_tail=footer_text
            )
            subject = (
                sandbox.render(self.compiled.subject, values, self.compiled.limits)
                if self.compiled.subject
                else None
            )
        except sandbox.LimitExceeded as exc:
            raise ClearpixelError(str(exc)) from None
        except (jinja2.TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
            raise ClearpixelError(f"template error: {exc}") from None
        message_id = self.message_id(cid)
        list_unsubscribe = None
        if self.bulk:
            list_unsubscribe = (
                unsubscribe,
                f"mailto:{self.mailto}?subject=unsubscribe-{unsub_token}",
            )
        data = self.layout.build(
            to=to,
            message_id=message_id,
            subject=subject,
            date=now,
            boundary=f"=_{self.campaign.public_id}.{cid}",
            text=text,
            html=html,
            list_unsubscribe=list_unsubscribe,
            crlf=(self.compiled.text.crlf, self.compiled.html.crlf),
        )
        return Rendered(message_id, data, to)

    def _footers(
        self, locale: str, mode: TrackingMode, preferences: str, unsubscribe: str
    ) -> tuple[str, str]:
        """(HTML, text) footer: who sends, what the tracking does, and links that say what
        one click does."""
        show_preferences = self.kind is MessageKind.MARKETING or mode_of(mode).preference_footer
        flags: dict[str, bool | str] = {
            "preferences": show_preferences,
            "unsubscribe": self.bulk,
            **{m.value: mode is m for m in TrackingMode},  # the footer's wording per mode
            "organisation": self.campaign.organisation,
        }
        html = _footer(f"footer.{locale}.html", **flags)
        text = _footer(f"footer.{locale}.txt", **flags)
        if show_preferences or self.bulk:
            html = html.replace(PREFS_MARK, preferences).replace(UNSUB_MARK, unsubscribe)
            text = text.replace(PREFS_MARK, preferences).replace(UNSUB_MARK, unsubscribe)
        return html, text

    def _pixel_token(self, mode: TrackingMode, cid: int, purposes: int) -> Token | None:
        """The token of a personal or deliverability pixel; None for the other modes."""
        spec = mode_of(mode)
        if self.kind is MessageKind.CONSENT_REQUEST or spec.pixel_token is None:
            return None
        named = purposes if spec.names_purposes else 0
        return Token(spec.pixel_token, cid, campaign_id=self.campaign.id, purposes=named)
