"""Small builders shared by tests: lists and contacts created through the real store."""

from __future__ import annotations

from typing import Any

from clearpixel.consent import record_decisions
from clearpixel.context import Context
from clearpixel.domain.ledger import Decision, Method
from clearpixel.store.contacts import insert_contacts
from clearpixel.store.lists import create_list


def make_list(ctx: Context, name: str = "newsletter") -> int:
    with ctx.db.begin() as tx:
        return create_list(tx, name, now=ctx.now()).id


def make_contacts(
    ctx: Context, list_id: int, flags: list[int | None], **attributes: Any
) -> list[int]:
    """One contact per entry of `flags`, with those flags set through the ledger."""
    rows = [
        {"list_id": list_id, "email": f"person{i}@example.org", "attributes": dict(attributes)}
        for i in range(len(flags))
    ]
    with ctx.db.begin() as tx:
        ids = insert_contacts(tx, rows, now=ctx.now())
        decisions = [
            Decision(
                contact_id=cid,
                list_id=list_id,
                email=row["email"],
                granted=value,
                revoked=0,
                method=Method.IMPORT,
                at=ctx.now(),
                evidence={"basis": "test fixture"},
            )
            for cid, row, value in zip(ids, rows, flags, strict=True)
            if value is not None
        ]
        record_decisions(tx, decisions, cooldown=ctx.cooldown)
    return ids
