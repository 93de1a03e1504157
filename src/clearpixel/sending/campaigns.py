"""Campaigns: create, list, preview, cancel, delete; sending itself is `delivery.py`.

A campaign is checked when it is created (`compile.py`: variables, links, the proof that no
recipient gets a personal auto-loaded URL) and compiled again, read-only, before each preview
and send. Preview never writes to the database.
"""

from __future__ import annotations

import dataclasses
import secrets

from clearpixel.context import Context
from clearpixel.domain.errors import N_, ClearpixelError, Message
from clearpixel.domain.policy import MessageKind
from clearpixel.domain.progress import Progress
from clearpixel.domain.tokens import TokenSigner
from clearpixel.sending import delivery
from clearpixel.sending.addresses import from_header, no_line_break
from clearpixel.sending.compile import Compiled, compile_campaign
from clearpixel.sending.delivery import SendReport
from clearpixel.sending.eligibility import mode_for
from clearpixel.sending.mime import DkimKey
from clearpixel.sending.render import CampaignInfo, Renderer
from clearpixel.sending.transports import Transport
from clearpixel.store import campaigns as campaign_store
from clearpixel.store import sends as send_store
from clearpixel.store.campaigns import Campaign
from clearpixel.store.contacts import find_contact
from clearpixel.store.lists import get_list
from clearpixel.store.nats_link import put_links

__all__ = [
    "SendReport",
    "all_campaigns",
    "archive_campaign",
    "cancel_campaign",
    "create_campaign",
    "delete_campaign",
    "get_campaign",
    "preview",
    "renderer_for",
    "send_campaign",
    "sent_by_mode",
]


def create_campaign(
    ctx: Context,
    *,
    list_name: str,
    kind: str,
    subject: str,
    html: str,
    text: str | None = None,
    from_addr: str | None = None,
    name: str | None = None,
) -> Campaign:
    """Check the template against the list's contacts, store the campaign and register its
    links (R13). The returned campaign names the links left untracked (`untracked_links`).
    Raises ClearpixelError naming the problem; nothing is stored then."""
    message_kind = kind_of(kind)
    sender = from_addr or ctx.settings.from_address
    from_header(sender)
    no_line_break("the subject", subject)
    if name is not None:
        no_line_break("the name", name)
    if not subject.strip():
        raise ClearpixelError(N_("a campaign needs a subject"))
    with ctx.db.connect() as conn:
        audience = get_list(conn, list_name)
        audience.check_open()
        attributes = campaign_store.list_attribute_names(conn, audience.id)
    compiled = compile_campaign(
        kind=message_kind, subject=subject, html=html, text=text, attributes=attributes
    )
    with ctx.db.begin() as tx:
        campaign = campaign_store.create_campaign(
            tx,
            public_id=secrets.token_hex(8),
            list_id=audience.id,
            name=(name or subject)[:200],
            kind=message_kind.value,
            subject=subject,
            html=html,
            text=text,
            from_addr=sender,
            now=ctx.now(),
        )
        campaign_store.register_links(tx, campaign.id, compiled.links)
    return dataclasses.replace(campaign, untracked_links=compiled.untracked)


def all_campaigns(ctx: Context, *, archived: bool | None = False) -> list[Campaign]:
    """Campaigns, newest first: by default those not archived; `archived=True` the
    archived ones, None all of them."""
    with ctx.db.connect() as conn:
        return campaign_store.all_campaigns(conn, archived=archived)


def send_counts(ctx: Context) -> dict[int, dict[str, int]]:
    """Recipients per status (sent, failed, skipped, pending) for every campaign."""
    with ctx.db.connect() as conn:
        return send_store.counts_by_campaign(conn)


def failures(ctx: Context, campaign_id: int, *, limit: int = 20) -> list[tuple[str, str]]:
    """(email, reason) of a campaign's failed recipients."""
    with ctx.db.connect() as conn:
        return send_store.failures(conn, campaign_id, limit=limit)


def get_campaign(ctx: Context, ref: str | int) -> Campaign:
    """The campaign `ref` names (`store.campaigns.find_campaign`: an int is an id only, text
    an id, public id or name). Raises UnknownCampaign."""
    with ctx.db.connect() as conn:
        return campaign_store.find_campaign(conn, ref)


def sent_by_mode(ctx: Context, campaign_id: int) -> dict[str, int]:
    with ctx.db.connect() as conn:
        return send_store.count_by_mode(conn, campaign_id)


# Previews and test messages sign their tokens with a key nobody holds (one per process):
# each pixel, click, preference, unsubscribe and consent URL keeps its place and its shape but
# opens nothing. A preview read by an editor, or a test sent to any address, must not hand out
# a contact's working preference or unsubscribe link: with it, someone else could change that
# contact's consent and the ledger would record it as the contact's own choice (R18).
INERT_SIGNER = TokenSigner([secrets.token_bytes(32)])


def publish_links_for_nodes(ctx: Context, campaign_id: int) -> int | None:
    """On a deployment with tracking nodes (CLEARPIXEL_NATS_URL set), put the campaign's
    registered links in the NATS links bucket, where nodes read them to redirect its clicks;
    every send calls it before its first message goes out. Returns how many links (None
    without NATS); raises NatsUnavailable, naming the URL, when NATS cannot take them."""
    settings = ctx.settings
    if not settings.nats_url:
        return None
    with ctx.db.connect() as conn:
        links = campaign_store.get_links(conn, campaign_id)
    put_links(settings.nats_url, settings.nats_links_bucket, campaign_id, links)
    return len(links)


def renderer_for(ctx: Context, campaign: Campaign, *, inert: bool = False) -> Renderer:
    """Compile the campaign again and build its renderer; reads only. Its links must be the
    ones registered at create (a click may only reach those, R13). `inert`: tokens signed by
    INERT_SIGNER, for previews and tests."""
    compiled = _compile(campaign)
    with ctx.db.connect() as conn:
        if not campaign_store.links_match(conn, campaign.id, compiled.links):
            raise ClearpixelError(
                N_(
                    "campaign %(id)s: its template now yields other links than those "
                    "registered when it was created; create the campaign again"
                ),
                id=campaign.id,
            )
    settings = ctx.settings
    dkim_key = None
    if settings.dkim_key_file and settings.dkim_selector and settings.dkim_domain:
        dkim_key = DkimKey.load(
            selector=settings.dkim_selector,
            domain=settings.dkim_domain,
            key_file=settings.dkim_key_file,
        )
    return Renderer(
        CampaignInfo(campaign.id, campaign.public_id, campaign.from_addr, settings.organisation),
        compiled,
        signer=INERT_SIGNER if inert else ctx.signer,
        base_url=settings.base_url,
        unsubscribe_mailto=settings.unsubscribe_mailto,
        consent_link_days=settings.consent_link_days,
        dkim_key=dkim_key,
    )


def preview(ctx: Context, ref: str | int, email: str) -> bytes:
    """The message `email` (a contact of the campaign's list) would get now, byte for byte
    but for its tokens, which open nothing (`INERT_SIGNER`). Writes nothing; the render runs
    under the template limits."""
    campaign = get_campaign(ctx, ref)
    with ctx.db.connect() as conn:
        contact = find_contact(conn, campaign.list_id, email.strip().lower()) or find_contact(
            conn, campaign.list_id, email.strip()
        )
    if contact is None:
        raise ClearpixelError(
            N_("%(email)r is not a contact of list %(list)r"), email=email, list=campaign.list_name
        )
    renderer = renderer_for(ctx, campaign, inert=True)
    mode, purposes = mode_for(ctx, kind_of(campaign.kind), contact.privacy_flags)
    return renderer.render(contact, mode, purposes=purposes, now=ctx.now()).data


def send_campaign(
    ctx: Context,
    ref: str | int,
    transport: Transport,
    *,
    rate: float | None = None,
    concurrency: int = 4,
    suppress_inactive_days: int | None = None,
    progress: Progress | None = None,
) -> SendReport:
    """Send (or resume) a campaign through `transport`; see `delivery.py`. The template is
    compiled and proved again first, so a campaign that no longer passes never starts."""
    options = delivery.SendOptions(rate, concurrency, suppress_inactive_days)
    campaign = get_campaign(ctx, ref)
    if campaign.status == campaign_store.DELETED:
        raise ClearpixelError(N_("campaign %(id)s was deleted"), id=campaign.id)
    if campaign.status == campaign_store.SCHEDULED:
        raise ClearpixelError(
            N_("campaign %(id)s is scheduled: unschedule it first to send it now"), id=campaign.id
        )
    if campaign.archived_at is not None:
        raise ClearpixelError(N_("campaign %(id)s is archived: restore it first"), id=campaign.id)
    renderer = renderer_for(ctx, campaign)
    published = publish_links_for_nodes(ctx, campaign.id)
    report = delivery.send(ctx, campaign, renderer, transport, options, progress=progress)
    report.links_published = published
    return report


def cancel_campaign(ctx: Context, ref: str | int) -> Campaign:
    """Stop a send: the campaign becomes `cancelled`; a sender running elsewhere sees it
    between batches and stops after the messages in flight. `campaign send` resumes it."""
    campaign = get_campaign(ctx, ref)
    with ctx.db.begin() as tx:
        if campaign_store.set_status(
            tx,
            campaign.id,
            campaign_store.CANCELLED,
            detail=f"cancelled at {ctx.now():%Y-%m-%d %H:%M} UTC",
            only_from=(campaign_store.SENDING, campaign_store.FAILED),
        ):
            return campaign_store.get_campaign(tx, campaign.id)
    if campaign.status == campaign_store.DRAFT:
        raise ClearpixelError(
            N_("campaign %(id)s is a draft: nothing is being sent (delete it instead)"),
            id=campaign.id,
        )
    if campaign.status == campaign_store.CANCELLED:
        return campaign
    if campaign.status == campaign_store.SCHEDULED:
        raise ClearpixelError(
            N_("campaign %(id)s is scheduled, not being sent: unschedule it instead"),
            id=campaign.id,
        )
    raise ClearpixelError(
        N_("campaign %(id)s is already %(status)s"), id=campaign.id, status=campaign.status
    )


def delete_campaign(ctx: Context, ref: str | int) -> Campaign:
    """Remove a draft (never sent). Its id is not reused, so a link from a preview can never
    reach another campaign."""
    campaign = get_campaign(ctx, ref)
    with ctx.db.begin() as tx:
        if campaign_store.set_status(
            tx, campaign.id, campaign_store.DELETED, only_from=(campaign_store.DRAFT,)
        ):
            return campaign
    raise ClearpixelError(
        N_("campaign %(id)s is %(status)s, not a draft: only a draft can be deleted"),
        id=campaign.id,
        status=campaign.status,
    )


def archive_campaign(ctx: Context, ref: str | int, *, archived: bool = True) -> Campaign:
    """Archive a sent or cancelled campaign (it leaves the default list; its report, sends
    and ledger stay) or restore it (`archived=False`). Effects: `campaigns.archived_at`.
    Raises ClearpixelError naming why another status cannot be archived."""
    campaign = get_campaign(ctx, ref)
    with ctx.db.begin() as tx:
        if campaign_store.set_archived(tx, campaign.id, at=ctx.now() if archived else None):
            return campaign_store.get_campaign(tx, campaign.id)
    why = {
        campaign_store.DRAFT: N_("a draft is deleted, not archived"),
        campaign_store.SCHEDULED: N_("unschedule it first (a draft is deleted, not archived)"),
        campaign_store.SENDING: N_("it is being sent: wait for the end, or cancel it first"),
        campaign_store.FAILED: N_(
            "its send stopped with recipients left: resume or cancel it first"
        ),
    }.get(campaign.status, N_("only a sent or cancelled campaign is archived"))
    raise ClearpixelError(
        N_("campaign %(id)s is %(status)s: %(why)s"),
        id=campaign.id,
        status=campaign.status,
        why=Message(why),
    )


def kind_of(kind: str) -> MessageKind:
    try:
        return MessageKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in MessageKind)
        raise ClearpixelError(f"unknown message kind {kind!r} (known: {known})") from None


def _compile(campaign: Campaign) -> Compiled:
    return compile_campaign(
        kind=kind_of(campaign.kind),
        subject=campaign.subject,
        html=campaign.html,
        text=campaign.text,
    )
