"""`serve` signs the ledger head on a schedule, into the checkpoint folder, whenever the
head moved: a ledger entry written while serving is anchored without anyone asking."""

from __future__ import annotations

import json

from clearpixel.consent import record_decision
from clearpixel.consent.checkpoints import ensure_ledger_key
from clearpixel.context import Context
from clearpixel.domain.ledger import Method
from clearpixel.web.server import ThreadedServer
from tests.helpers import make_contacts, make_list
from tests.web.tracking_support import eventually


def test_serve_writes_checkpoints_as_the_ledger_grows(ctx):
    ensure_ledger_key(ctx.settings)
    (cid,) = make_contacts(ctx, make_list(ctx), [None])
    settings = ctx.settings.model_copy(update={"checkpoint_minutes": 0.005})
    served = Context(settings=settings, db=ctx.db, now=ctx.now)
    folder = settings.checkpoint_path

    def seqs() -> list[int]:
        return sorted(json.loads(p.read_text())["seq"] for p in folder.glob("*.json"))

    with ThreadedServer(served):
        assert eventually(lambda: seqs() == [0])
        record_decision(
            ctx.db, cid, granted=1, method=Method.API, now=ctx.now(), cooldown=ctx.cooldown
        )
        assert eventually(lambda: seqs() == [0, 1])
    assert seqs() == [0, 1]  # nothing new while the head stayed put
