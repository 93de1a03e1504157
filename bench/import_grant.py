"""Import and bulk grant on PostgreSQL, each beside the raw SQL it replaces, same run.

    uv run python bench/import_grant.py --rows 100000 --rows 1000000

For each size: a fresh database `clearpixel_bench_import` (never the test database), a CSV of N
contacts (half with an empty privacy_flags cell, half with a value 0..7), then
  1. raw COPY of the file into a bare table            vs `clearpixel contacts import`
  2. raw UPDATE ... COALESCE(privacy_flags, 0) | 1     vs `clearpixel flags grant`
     (the raw UPDATE runs on an identical copy of the contacts table, indexes included)
The commands run as separate processes; their peak RSS is read from wait4(). Afterwards
`flags check` and `ledger verify` must pass.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "clearpixel_bench_import"
BENCH = f"postgresql://postgres@127.0.0.1:5432/{BENCH_DB}"
KEY = "bench-signing-key-0123456789abcdef0123456789abcdef"


def fresh_database() -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")


def write_csv(path: Path, rows: int) -> None:
    rng = random.Random(42)
    locales = ["fr", "en", "de", "es", ""]
    with path.open("w", encoding="utf-8") as out:
        out.write("email,privacy_flags,locale,first_name\n")
        for i in range(rows):
            flags = "" if i % 2 else str(rng.randrange(8))
            out.write(f"user{i}@example{i % 97}.org,{flags},{rng.choice(locales)},Name{i}\n")


def run(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run a command; returns (seconds, its own peak RSS in MiB, stdout)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        command = " ".join(args)
        sys.exit(f"{command} failed:\n{stdout[-2000:]}\n{stderr[-2000:]}")
    return seconds, usage.ru_maxrss // 1024, stdout


def timed_sql(statements: list[str], copy_file: Path | None = None) -> float:
    with psycopg.connect(BENCH) as conn:
        start = time.perf_counter()
        with conn.cursor() as cur:
            for sql in statements:
                if copy_file is not None and sql.startswith("COPY"):
                    with copy_file.open("rb") as src, cur.copy(sql) as copy:
                        while chunk := src.read(1 << 20):
                            copy.write(chunk)
                else:
                    cur.execute(sql)
        conn.commit()
        return time.perf_counter() - start


def bench(rows: int, workdir: Path, exe: list[str]) -> dict[str, float]:
    fresh_database()
    csv_path = workdir / f"contacts_{rows}.csv"
    write_csv(csv_path, rows)
    env = {
        **os.environ,
        "CLEARPIXEL_DATABASE_URL": BENCH.replace("postgresql://", "postgresql+psycopg://"),
        "CLEARPIXEL_DATA_DIR": str(workdir / "data"),
        "CLEARPIXEL_SECRET_KEYS": KEY,
    }
    run([*exe, "init"], env)
    run([*exe, "lists", "create", "bench"], env)
    startup, _, _ = run([*exe, "--help"], env)

    copy_s = timed_sql(
        [
            "CREATE TABLE raw_import (email text, privacy_flags integer, locale text, "
            "first_name text)",
            "COPY raw_import FROM STDIN WITH (FORMAT csv, HEADER true)",
        ],
        copy_file=csv_path,
    )
    # For context: the same COPY into a table that has the contacts' unique (list, email) index.
    copy_indexed_s = timed_sql(
        [
            "CREATE TABLE raw_import_indexed (list_id integer NOT NULL DEFAULT 1, email text, "
            "privacy_flags integer, locale text, first_name text, UNIQUE (list_id, email))",
            "COPY raw_import_indexed (email, privacy_flags, locale, first_name) FROM STDIN "
            "WITH (FORMAT csv, HEADER true)",
        ],
        copy_file=csv_path,
    )
    import_s, import_rss, out = run(
        [*exe, "contacts", "import", str(csv_path), "--list", "bench", "--basis", "bench"],
        env,
    )
    print(out.strip(), file=sys.stderr)

    with psycopg.connect(BENCH, autocommit=True) as conn:
        conn.execute("CREATE TABLE contacts_raw (LIKE contacts INCLUDING ALL)")
        conn.execute("INSERT INTO contacts_raw SELECT * FROM contacts")
        conn.execute("VACUUM ANALYZE contacts")
        conn.execute("VACUUM ANALYZE contacts_raw")
        conn.execute("CHECKPOINT")
    update_s = timed_sql(["UPDATE contacts_raw SET privacy_flags = COALESCE(privacy_flags, 0) | 1"])
    with psycopg.connect(BENCH, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    grant_s, grant_rss, out = run(
        [
            *exe,
            "flags",
            "grant",
            "--list",
            "bench",
            "--purpose",
            "open_tracking",
            "--basis",
            "bench",
        ],
        env,
    )
    print(out.strip(), file=sys.stderr)
    check_s, _, _ = run([*exe, "flags", "check"], env)
    verify_s, verify_rss, _ = run([*exe, "ledger", "verify"], env)
    with psycopg.connect(BENCH) as conn:
        entries = conn.execute("SELECT count(*) FROM consent_ledger").fetchone()
    return {
        "rows": rows,
        "startup": startup,
        "copy": copy_s,
        "copy_indexed": copy_indexed_s,
        "import": import_s,
        "import_rss": import_rss,
        "update": update_s,
        "grant": grant_s,
        "grant_rss": grant_rss,
        "check": check_s,
        "verify": verify_s,
        "verify_rss": verify_rss,
        "entries": entries[0] if entries else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, action="append", default=[])
    args = parser.parse_args()
    exe = [str(Path(sys.executable).parent / "clearpixel")]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows or [100_000]:
            result = bench(rows, Path(tmp), exe)
            results.append(result)
            print(result, file=sys.stderr)
    print(
        "| rows | raw COPY, bare table (with unique index) | contacts import | ratio | "
        "raw UPDATE | flags grant (+ledger) | ratio | ledger entries |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        imp, grant = r["import"] - r["startup"], r["grant"] - r["startup"]
        print(
            f"| {r['rows']:,} | {r['copy']:.2f} s ({r['copy_indexed']:.2f} s) | "
            f"{r['import']:.1f} s ({imp:.1f} s w/o start-up) | "
            f"{r['import'] / r['copy']:.0f}× ({imp / r['copy_indexed']:.1f}× indexed) | "
            f"{r['update']:.2f} s | {r['grant']:.1f} s ({grant:.1f} s w/o start-up) | "
            f"{r['grant'] / r['update']:.1f}× ({grant / r['update']:.1f}×) | {r['entries']:,} |"
        )
    print()
    print(
        "| rows | CLI start-up | import peak RSS | grant peak RSS | flags check | "
        "ledger verify (peak RSS) |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r['rows']:,} | {r['startup']:.2f} s | {r['import_rss']} MiB | "
            f"{r['grant_rss']} MiB | {r['check']:.2f} s | {r['verify']:.2f} s "
            f"({r['verify_rss']} MiB) |"
        )


if __name__ == "__main__":
    main()
