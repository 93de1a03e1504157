"""A choice made on the preference page reads the clock once: every ledger entry of one
save carries the same time, however the clock moves while it is written."""

from __future__ import annotations

import itertools
from datetime import timedelta

from clearpixel.consent import preferences
from clearpixel.store.ledger import entries_for_contact
from tests.conftest import FIXED_NOW
from tests.consent.consent_helpers import preferences_token
from tests.helpers import make_contacts, make_list


def test_every_entry_of_one_saved_choice_has_the_same_time(ctx):
    (contact_id,) = make_contacts(ctx, make_list(ctx), [None])
    token = preferences_token(ctx, contact_id)
    page = preferences.open_preferences(ctx, token, locale_of=lambda c: "en")
    ticks = itertools.count()
    ctx.now = lambda: FIXED_NOW + timedelta(seconds=next(ticks))  # moves at every reading

    preferences.save_choices(
        ctx, token, nonce=page.nonce, csrf_token=page.csrf, granted=["open_tracking"],
        notice_ids={}, locale="en", evidence={"source": "test"},
    )  # fmt: skip

    with ctx.db.connect() as conn:
        entries = entries_for_contact(conn, contact_id)
    assert len(entries) == len(list(ctx.purposes)) >= 2  # from never asked: one per purpose
    assert len({e.at for e in entries}) == 1
