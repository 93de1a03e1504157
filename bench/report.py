"""Campaign report cost vs events, on PostgreSQL: the report reads counters, so a campaign
with 10,000,000 events must cost about what one with 10,000 events costs.

    uv run python bench/report.py                 # build (first run) and measure
    uv run python bench/report.py --rebuild       # drop and rebuild the bench database

Database `clearpixel_bench_report` (never the test database), migrated with the platform's
own migrations. Two marketing campaigns with the same 100,000 recipients (sends rows) and the
same 30 days of hourly counters; campaign S has 10,000 raw events, campaign L 10,000,000,
all generated with `generate_series`. The counters (hit_counters, campaign_totals) are built
from the raw events by GROUP BY, as ingest would have maintained them. Then, in one run:
`reports.campaign.campaign_report` for each (median of 30 calls after 5 warm-ups, the calls
of the two campaigns alternating), and beside it, as a contrast, the same opens-by-verdict
figure computed by scanning the raw events.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from typing import Any

import psycopg

from clearpixel.config import Settings
from clearpixel.context import Context, open_context
from clearpixel.reports.campaign import campaign_report

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "clearpixel_bench_report"
BENCH = f"postgresql://postgres@127.0.0.1:5432/{BENCH_DB}"
KEY = "bench-signing-key-0123456789abcdef0123456789abcdef"
RECIPIENTS = 100_000
HOURS = 30 * 24
SIZES = {"S": 10_000, "L": 10_000_000}
REPEATS = 30
WARMUP = 5


def database_exists() -> bool:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,))
        return found.fetchone() is not None


def fresh_database() -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")


def populate(ctx: Context) -> dict[str, int]:
    """Create the list, both campaigns, their sends, raw events and counters."""
    ids: dict[str, int] = {}
    with psycopg.connect(BENCH, autocommit=False) as conn:
        conn.execute(
            "INSERT INTO audience_lists (name, created_at) VALUES ('bench', now()) RETURNING id"
        )
        list_id = conn.execute("SELECT id FROM audience_lists WHERE name = 'bench'").fetchone()
        assert list_id is not None
        for label, events in SIZES.items():
            row = conn.execute(
                """INSERT INTO campaigns (public_id, list_id, name, kind, subject, html,
                       from_addr, status, created_at)
                   VALUES (%s, %s, %s, 'marketing', 'Bench', '<p>x</p>', 'a@example.org',
                       'sent', now() - interval '30 days') RETURNING id""",
                (f"bench{label.lower()}", list_id[0], f"bench {label}"),
            ).fetchone()
            assert row is not None
            cid = row[0]
            ids[label] = cid
            started = time.perf_counter()
            conn.execute(
                """INSERT INTO campaign_links (campaign_id, link_id, url)
                   SELECT %s, g, 'https://example.org/' || g FROM generate_series(1, 40) g""",
                (cid,),
            )
            conn.execute(
                """INSERT INTO sends (campaign_id, contact_id, kind, mode, purposes, status,
                       attempts, created_at, sent_at)
                   SELECT %s, g, 'marketing',
                          CASE WHEN g %% 3 = 0 THEN 'personal' ELSE 'anonymous' END,
                          CASE WHEN g %% 3 = 0 THEN 1 ELSE 0 END, 'sent', 1,
                          now() - interval '30 days', now() - interval '30 days'
                   FROM generate_series(1, %s) g""",
                (cid, RECIPIENTS),
            )
            # Raw events: opens and clicks of personal-mode recipients, over 30 days.
            conn.execute(
                """INSERT INTO personal_events (campaign_id, contact_id, event, link_id, at,
                       verdict, reason, rule)
                   SELECT %s, 3 * (1 + g %% (%s / 3 - 1)),
                          CASE WHEN g %% 5 = 0 THEN 'click' ELSE 'open' END,
                          CASE WHEN g %% 5 = 0 THEN 1 + g %% 40 END,
                          date_trunc('hour', now() - interval '30 days')
                              + (g %% %s) * interval '1 hour',
                          CASE g %% 3 WHEN 0 THEN 'human' WHEN 1 THEN 'machine'
                              ELSE 'unknown' END,
                          NULL, 'bench@1'
                   FROM generate_series(1, %s) g""",
                (cid, RECIPIENTS, HOURS, events),
            )
            conn.execute(
                """INSERT INTO hit_counters (campaign_id, hour, mode, kind, event, verdict, n)
                   SELECT campaign_id, date_trunc('hour', at), 'personal', 'marketing', event,
                          verdict, count(*)
                   FROM personal_events WHERE campaign_id = %s
                   GROUP BY 1, 2, 5, 6""",
                (cid,),
            )
            # Anonymous-pixel hits are counters only (no raw event exists for them).
            conn.execute(
                """INSERT INTO hit_counters (campaign_id, hour, mode, kind, event, verdict, n)
                   SELECT %s, date_trunc('hour', now() - interval '30 days')
                              + h * interval '1 hour', 'anonymous', 'marketing', 'open', v,
                          greatest(1, %s / %s / 2)
                   FROM generate_series(0, %s - 1) h,
                        unnest(ARRAY['human', 'machine', 'unknown']) v""",
                (cid, events, HOURS, HOURS),
            )
            conn.execute(
                """INSERT INTO campaign_totals (campaign_id, metric, link_id, n)
                   SELECT %s, 'openers', 0, count(DISTINCT contact_id)
                       FROM personal_events WHERE campaign_id = %s AND event = 'open'
                   UNION ALL
                   SELECT %s, 'openers_' || verdict, 0, count(DISTINCT contact_id)
                       FROM personal_events WHERE campaign_id = %s AND event = 'open'
                       GROUP BY verdict
                   UNION ALL
                   SELECT %s, 'clickers', 0, count(DISTINCT contact_id)
                       FROM personal_events WHERE campaign_id = %s AND event = 'click'
                   UNION ALL
                   SELECT %s, 'link_clicks', link_id, count(*)
                       FROM personal_events WHERE campaign_id = %s AND event = 'click'
                       GROUP BY link_id
                   UNION ALL
                   SELECT %s, 'link_clickers', link_id, count(DISTINCT contact_id)
                       FROM personal_events WHERE campaign_id = %s AND event = 'click'
                       GROUP BY link_id""",
                (cid,) * 10,
            )
            conn.commit()
            took = time.perf_counter() - started
            print(f"  campaign {label}: {events:,} events built in {took:.1f} s")
    with psycopg.connect(BENCH, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return ids


def campaign_ids() -> dict[str, int]:
    with psycopg.connect(BENCH) as conn:
        rows = conn.execute("SELECT name, id FROM campaigns WHERE name LIKE 'bench %'").fetchall()
    return {name.split()[1]: cid for name, cid in rows}


def counts(cid: int) -> tuple[int, int]:
    with psycopg.connect(BENCH) as conn:
        events = conn.execute(
            "SELECT count(*) FROM personal_events WHERE campaign_id = %s", (cid,)
        ).fetchone()
        counters = conn.execute(
            "SELECT count(*) FROM hit_counters WHERE campaign_id = %s", (cid,)
        ).fetchone()
    assert events and counters
    return int(events[0]), int(counters[0])


def timed(func: Any, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        func()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        func()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def raw_scan(cid: int) -> None:
    with psycopg.connect(BENCH) as conn:
        conn.execute(
            """SELECT verdict, count(*), count(DISTINCT contact_id) FROM personal_events
               WHERE campaign_id = %s AND event = 'open' GROUP BY verdict""",
            (cid,),
        ).fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the data")
    args = parser.parse_args()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=BENCH.replace("postgresql://", "postgresql+psycopg://"),
        secret_keys=[KEY],
    )
    if args.rebuild or not database_exists():
        print(f"building {BENCH_DB} ...")
        fresh_database()
        ctx = open_context(settings)
        populate(ctx)
    else:
        ctx = open_context(settings)
    ids = campaign_ids()
    for label in SIZES:
        assert campaign_report(ctx, str(ids[label])).sent.value == RECIPIENTS
    # The two reports alternate, call by call, so load on the machine hits both alike.
    samples: dict[str, list[float]] = {label: [] for label in SIZES}
    for i in range(WARMUP + REPEATS):
        for label in SIZES:
            started = time.perf_counter()
            campaign_report(ctx, str(ids[label]))
            if i >= WARMUP:
                samples[label].append(time.perf_counter() - started)
    results = {}
    for label in SIZES:
        cid = ids[label]
        events, counter_rows = counts(cid)
        raw_s = timed(lambda cid=cid: raw_scan(cid), 3 if events > 1e6 else REPEATS, 1)
        results[label] = (events, counter_rows, statistics.median(samples[label]), raw_s)
    ctx.db.dispose()

    small, large = results["S"], results["L"]
    print()
    python = platform.python_version()
    print(f"machine: {platform.machine()}, 2 cores, PostgreSQL at 127.0.0.1, Python {python}")
    print()
    print(
        "| campaign | raw events | counter rows | report from counters (median) "
        "| raw-event scan of opens (contrast) |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, (events, counter_rows, report_s, raw_s) in results.items():
        print(
            f"| {label} | {events:,} | {counter_rows:,} | {report_s * 1000:.2f} ms | "
            f"{raw_s * 1000:.1f} ms |"
        )
    print()
    print(
        f"report ratio L/S: {large[2] / small[2]:.2f} (goal <= 1.5); "
        f"raw-scan ratio L/S: {large[3] / small[3]:.0f}"
    )


if __name__ == "__main__":
    main()
