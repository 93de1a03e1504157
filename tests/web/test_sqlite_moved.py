"""An embedded database moved away and back (a backup script, an operator's mistake):
every hit is answered meanwhile, and ingest resumes once the file is back, without a restart
and without anything created where the database was."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clearpixel.web.server import ThreadedServer
from tests.ingest.builders import rows
from tests.web.test_tracking_faults import Load, ingested, setup_campaign, wait_until


def test_ingest_resumes_after_the_sqlite_file_is_moved_away_and_back(ctx, tmp_path):
    if ctx.db.is_postgres:
        pytest.skip("the embedded database's file")
    paths = setup_campaign(ctx)
    db_file = Path(ctx.db.url.removeprefix("sqlite:///"))
    aside = tmp_path / "aside"
    aside.mkdir()
    with ThreadedServer(ctx) as server, Load(server.port, paths) as load:
        wait_until(lambda: load.ok >= 200 and ingested(ctx) >= 100)
        moved = []
        for suffix in ("", "-wal", "-shm"):
            path = Path(f"{db_file}{suffix}")
            if path.exists():
                shutil.move(path, aside / path.name)
                moved.append(path)
        # the pool opens new connections while the file is away (overflow, a recycled
        # connection, a restarted worker): here all of them at once
        ctx.db.engine.pool.dispose()
        seen = load.ok
        wait_until(lambda: load.ok >= seen + 300)
        assert not db_file.exists()  # nothing created in its place
        for path in moved:
            shutil.move(aside / path.name, path)
        seen = load.ok
        wait_until(lambda: load.ok >= seen + 300)
    assert load.bad == 0
    wait_until(lambda: ingested(ctx) == load.ok)
    assert len(rows(ctx, "personal_events")) == load.ok
