"""Monthly partitions of personal events on PostgreSQL: the migration converts an existing
installation (its events kept, each in its month); ingest creates the months it writes to;
retention drops the months wholly past their window and deletes only the rest row by row."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from clearpixel.domain.events import Hit, HitSource, Verdict
from clearpixel.ingest.pipeline import Batch
from clearpixel.ingest.tracker import build_pipeline
from clearpixel.store import Database
from clearpixel.store.db import MIGRATIONS
from clearpixel.store.partitions import is_partitioned, months
from clearpixel.store.retention import delete_personal_events_before
from tests.helpers import make_contacts, make_list
from tests.ingest.builders import make_campaign, make_send, rows

pytestmark = pytest.mark.postgres_only


def opens_at(ctx, times: list[datetime]) -> None:
    list_id = make_list(ctx)
    (contact,) = make_contacts(ctx, list_id, [1])
    campaign_id, _ = make_campaign(ctx, list_id)
    make_send(ctx, campaign_id, contact, sent_at=min(times) - timedelta(hours=1))
    hits = [
        Hit(
            source=HitSource.PERSONAL,
            at=at.timestamp(),
            campaign_id=campaign_id,
            contact_id=contact,
            purposes=1,
            verdict=Verdict.HUMAN,
        )
        for at in times
    ]
    build_pipeline(ctx).ingest(Batch("months-1", hits))


def where(ctx) -> dict[str, int]:
    """Rows of personal_events by the partition that holds them."""
    with ctx.db.connect() as tx:
        found = tx.execute(
            sa.text("SELECT tableoid::regclass::text, count(*) FROM personal_events GROUP BY 1")
        )
        return {name.rsplit(".", 1)[-1]: n for name, n in found}


def test_ingest_creates_the_months_it_writes_to(ctx):
    times = [datetime(2027, 5, 3, 10, tzinfo=UTC), datetime(2026, 11, 2, 9, tzinfo=UTC)]
    opens_at(ctx, times)
    with ctx.db.connect() as tx:
        assert is_partitioned(tx)
        assert {date(2026, 11, 1), date(2026, 12, 1), date(2027, 5, 1)} <= set(months(tx))
    assert where(ctx) == {"personal_events_p2026_11": 1, "personal_events_p2027_05": 1}


def test_retention_drops_whole_months_and_deletes_the_rest(ctx):
    times = [
        datetime(2026, 7, 10, tzinfo=UTC),
        datetime(2026, 8, 31, 23, tzinfo=UTC),
        datetime(2026, 9, 10, tzinfo=UTC),
        datetime(2026, 9, 20, tzinfo=UTC),
        datetime(2026, 10, 1, tzinfo=UTC),
    ]
    opens_at(ctx, times)
    with ctx.db.begin() as tx:
        removed = delete_personal_events_before(tx, datetime(2026, 9, 15, tzinfo=UTC))
    assert removed == 3
    with ctx.db.connect() as tx:
        kept = set(months(tx))
    assert date(2026, 7, 1) not in kept and date(2026, 8, 1) not in kept  # dropped whole
    assert date(2026, 9, 1) in kept  # only partly past: its old rows deleted
    assert sorted(r["at"] for r in rows(ctx, "personal_events")) == times[3:]


def test_the_migration_converts_an_existing_installation(database_url, tmp_path):
    db = Database(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0017")
    old = [datetime(2026, 3, 5, 8, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)]
    with db.engine.begin() as conn:
        for at in old:
            conn.execute(
                sa.text(
                    "INSERT INTO personal_events (campaign_id, contact_id, event, at, verdict) "
                    "VALUES (7, 9, 'open', :at, 'human')"
                ),
                {"at": at},
            )
    db.migrate()
    with db.connect() as tx:
        assert is_partitioned(tx)
        assert {date(2026, 3, 1), date(2026, 4, 1)} <= set(months(tx))
        found = tx.execute(
            sa.text("SELECT id, at, tableoid::regclass::text FROM personal_events ORDER BY id")
        ).all()
    assert [(r[1], r[2].rsplit(".", 1)[-1]) for r in found] == [
        (old[0], "personal_events_p2026_03"),
        (old[1], "personal_events_p2026_04"),
    ]
    with db.engine.begin() as conn:  # new rows take ids after the old ones
        new_id = conn.execute(
            sa.text(
                "INSERT INTO personal_events (campaign_id, contact_id, event, at, verdict) "
                "VALUES (7, 9, 'open', now(), 'human') RETURNING id"
            )
        ).scalar_one()
    assert new_id > found[-1][0]
    db.dispose()
