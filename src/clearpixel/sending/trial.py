"""A campaign tried before it is sent: its template checked against a list without storing
anything, one contact's message rendered in every tracking mode side by side, and a test
message to one address. Everything goes through the send path's own compile and render
(`campaigns.renderer_for`), so a preview is exactly the bytes a send would produce but for
its tokens, which open nothing (`campaigns.INERT_SIGNER`): neither a preview nor a test sent
to any address hands out a contact's working preference, unsubscribe or consent link."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from clearpixel.context import Context
from clearpixel.domain.errors import N_, ClearpixelError
from clearpixel.domain.policy import TrackingMode
from clearpixel.sending.campaigns import get_campaign, kind_of, renderer_for
from clearpixel.sending.compile import compile_campaign
from clearpixel.sending.eligibility import mode_for
from clearpixel.sending.transports import transport_from
from clearpixel.store import campaigns as campaign_store
from clearpixel.store.campaigns import Campaign
from clearpixel.store.contacts import Contact, find_contact
from clearpixel.store.lists import get_list_by_id

MODES = (
    TrackingMode.PERSONAL,
    TrackingMode.ANONYMOUS,
    TrackingMode.DELIVERABILITY,
    TrackingMode.NONE,
)


@dataclass(frozen=True, slots=True)
class ModePreview:
    """One contact's message in one mode: the MIME bytes, and whether a send now would use
    this mode for this contact."""

    mode: TrackingMode
    data: bytes
    chosen: bool


def check_template(
    ctx: Context,
    *,
    list_id: int,
    kind: str,
    subject: str,
    html: str,
    text: str | None = None,
) -> None:
    """Check a template as `create_campaign` would, against the list's contacts' attribute
    names; stores nothing. Raises TemplateRefused naming the problem (and its line when the
    check knows it), UnknownList, ClearpixelError."""
    with ctx.db.connect() as conn:
        target = get_list_by_id(conn, list_id)
        attributes = campaign_store.list_attribute_names(conn, target.id)
    compile_campaign(
        kind=kind_of(kind), subject=subject, html=html, text=text, attributes=attributes
    )


def find_recipient(ctx: Context, campaign: Campaign, email: str) -> Contact:
    """The contact of the campaign's list with this address; raises ClearpixelError."""
    with ctx.db.connect() as conn:
        found = find_contact(conn, campaign.list_id, email.strip().lower()) or find_contact(
            conn, campaign.list_id, email.strip()
        )
    if found is None:
        raise ClearpixelError(
            N_("%(email)r is not a contact of list %(list)r"), email=email, list=campaign.list_name
        )
    return found


def preview_modes(ctx: Context, ref: str | int, email: str) -> list[ModePreview]:
    """The message `email` (a contact of the campaign's list) would get, rendered in every
    mode, the one a send would choose now marked. Writes nothing."""
    campaign = get_campaign(ctx, ref)
    contact = find_recipient(ctx, campaign, email)
    renderer = renderer_for(ctx, campaign, inert=True)
    chosen, purposes = mode_for(ctx, kind_of(campaign.kind), contact.privacy_flags)
    granted = (contact.privacy_flags or 0) & ctx.purposes.all_bits
    now = ctx.now()
    previews = []
    for mode in MODES:
        named = purposes if mode is chosen else granted if mode is TrackingMode.PERSONAL else 0
        data = renderer.render(contact, mode, purposes=named, now=now).data
        previews.append(ModePreview(mode, data, mode is chosen))
    return previews


def send_test(ctx: Context, ref: str | int, *, sample: str, to: str) -> None:
    """Send one test message to the address `to`: the campaign rendered for the contact
    `sample` with no tracking at all (mode none), so a tester's reading never counts as
    the contact's. Goes through the configured transport (SMTP when CLEARPIXEL_SMTP_URL is
    set, else the outbox folder `DATA_DIR/outbox/tests`). Records no send. Raises
    ClearpixelError, DeliveryError."""
    address = to.strip()
    if "@" not in address or any(c in address for c in "\r\n ,;<>"):
        raise ClearpixelError(N_("%(to)r is not one email address"), to=to)
    campaign = get_campaign(ctx, ref)
    contact = find_recipient(ctx, campaign, sample)
    renderer = renderer_for(ctx, campaign, inert=True)
    data = renderer.render(contact, TrackingMode.NONE, purposes=0, now=ctx.now()).data
    settings = ctx.settings
    transport = transport_from(
        outbox=None,
        smtp=settings.smtp_url or None,
        default_outbox=settings.data_dir / "outbox" / "tests",
    )

    async def deliver() -> None:
        session = await transport.session()
        try:
            await session.send(campaign.from_addr, address, data, key=secrets.token_hex(12))
        finally:
            await session.close()

    asyncio.run(deliver())
