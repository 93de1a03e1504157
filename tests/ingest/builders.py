"""Campaigns, sends and hits for hit-path tests, built through the real store and services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from clearpixel.context import Context
from clearpixel.domain.tokens import Token, TokenKind
from clearpixel.domain.urls import anonymous_pixel_path, click_path, pixel_path
from clearpixel.store.campaigns import create_campaign, register_links
from clearpixel.store.schema import metadata, sends
from clearpixel.store.sends import insert_pending, mark_sent

UA_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)


def make_campaign(
    ctx: Context,
    list_id: int,
    *,
    name: str = "November news",
    kind: str = "marketing",
    links: Sequence[str] = ("https://shop.example.org/sale", "https://example.org/about"),
) -> tuple[int, str]:
    """A campaign with registered links; returns (id, public id)."""
    public_id = "pub" + name.replace(" ", "")[:20].lower()
    with ctx.db.begin() as tx:
        campaign = create_campaign(
            tx,
            public_id=public_id,
            list_id=list_id,
            name=name,
            kind=kind,
            subject="Hello",
            html="<p>hi</p>",
            text=None,
            from_addr="news@example.org",
            now=ctx.now(),
        )
        register_links(tx, campaign.id, list(links))
    return campaign.id, public_id


def make_send(
    ctx: Context,
    campaign_id: int,
    contact_id: int,
    *,
    kind: str = "marketing",
    mode: str = "personal",
    purposes: int = 1,
    sent_at: datetime | None = None,
) -> None:
    """A send row marked sent (as the send path records it)."""
    with ctx.db.begin() as tx:
        insert_pending(
            tx,
            [
                {
                    "campaign_id": campaign_id,
                    "contact_id": contact_id,
                    "kind": kind,
                    "mode": mode,
                    "purposes": purposes,
                }
            ],
            now=ctx.now(),
        )
        send_id = tx.execute(
            sa.select(sends.c.id).where(
                sends.c.campaign_id == campaign_id, sends.c.contact_id == contact_id
            )
        ).scalar_one()
        mark_sent(
            tx,
            send_id,
            message_id=f"<{campaign_id}.{contact_id}@example.org>",
            mode=mode,
            purposes=purposes,
            now=sent_at or ctx.now(),
        )


def pixel_token(ctx: Context, campaign_id: int, contact_id: int, *, purposes: int = 1) -> str:
    return ctx.signer.sign(
        Token(TokenKind.PIXEL, contact_id=contact_id, campaign_id=campaign_id, purposes=purposes)
    )


def deliverability_token(ctx: Context, campaign_id: int, contact_id: int) -> str:
    return ctx.signer.sign(
        Token(TokenKind.DELIVERABILITY, contact_id=contact_id, campaign_id=campaign_id)
    )


def click_token(ctx: Context, campaign_id: int, contact_id: int, link_id: int) -> str:
    return ctx.signer.sign(
        Token(TokenKind.CLICK, contact_id=contact_id, campaign_id=campaign_id, link_id=link_id)
    )


def pixel_url(ctx: Context, campaign_id: int, contact_id: int, *, purposes: int = 1) -> str:
    return pixel_path(pixel_token(ctx, campaign_id, contact_id, purposes=purposes))


def anonymous_url(public_id: str) -> str:
    return anonymous_pixel_path(public_id)


def click_url(ctx: Context, campaign_id: int, contact_id: int, link_id: int) -> str:
    return click_path(click_token(ctx, campaign_id, contact_id, link_id))


def rows(ctx: Context, table: str) -> list[dict[str, object]]:
    """Every row of `table`, as dicts."""
    with ctx.db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(metadata.tables[table]))]


def find_text_anywhere(ctx: Context, needles: Sequence[str]) -> list[str]:
    """Every (table.column) whose text contains one of `needles`: the leak detector. Every
    table and every column is read as text, so nothing can hide in a JSON or numeric column."""
    hits = []
    with ctx.db.connect() as conn:
        for table in metadata.sorted_tables:
            for column in table.columns:
                as_text = sa.cast(column, sa.Text)
                for needle in needles:
                    query = sa.select(sa.func.count()).where(as_text.contains(needle))
                    if conn.execute(query.select_from(table)).scalar_one():
                        hits.append(f"{table.name}.{column.name} contains {needle!r}")
    return hits
