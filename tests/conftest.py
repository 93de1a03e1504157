"""Shared fixtures: a fresh, migrated database per test (SQLite by default, PostgreSQL when
CLEARPIXEL_TEST_DATABASE_URL is set), settings, a context and a CLI runner."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings as hypothesis_settings
from typer.testing import CliRunner

from clearpixel.config import Settings
from clearpixel.context import Context, open_context
from clearpixel.store.purposes import sync_purposes
from clearpixel.web.server import ThreadedServer

# Tests assert behaviour, not speed: no per-example deadline (a loaded machine would make
# any deadline flaky).
hypothesis_settings.register_profile("clearpixel", deadline=None)
hypothesis_settings.load_profile("clearpixel")

PG_URL = os.environ.get("CLEARPIXEL_TEST_DATABASE_URL", "")
TEST_KEY = "test-signing-key-0123456789abcdef0123456789"
FIXED_NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


BROWSER_FIXTURES = {"browser", "context", "page"}  # pytest-playwright's, session-wide


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The session's browser runs an event loop in the main thread from its first test on, and
    # asyncio.run() refuses to start under it: tests that use it go last, in their order.
    items.sort(key=lambda item: bool(BROWSER_FIXTURES & set(getattr(item, "fixturenames", ()))))
    if PG_URL:
        return
    skip = pytest.mark.skip(reason="PostgreSQL run only (CLEARPIXEL_TEST_DATABASE_URL)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@contextmanager
def fresh_database(folder: Path) -> Iterator[str]:
    """A URL to an empty database of its own: a SQLite file in `folder`, or a fresh
    PostgreSQL schema (dropped afterwards)."""
    if not PG_URL:
        yield f"sqlite:///{folder / 'test.db'}"
        return
    schema = "t_" + uuid.uuid4().hex[:16]
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database of its own (see `fresh_database`)."""
    with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_keys=[TEST_KEY],
        base_url="https://mail.example.test",
    )


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Context]:
    context = open_context(settings)
    context.now = lambda: FIXED_NOW
    with context.db.begin() as tx:
        sync_purposes(tx, context.purposes)
    yield context
    from tests.web.admin_session import leave_signed_in

    leave_signed_in()
    context.db.dispose()


@pytest.fixture
def cli_env(settings: Settings, ctx: Context) -> dict[str, str]:
    """Environment that points the CLI at the test's database and data folder."""
    return {
        "CLEARPIXEL_DATA_DIR": str(settings.data_dir),
        "CLEARPIXEL_DATABASE_URL": settings.database_url,
        "CLEARPIXEL_SECRET_KEYS": TEST_KEY,
        "CLEARPIXEL_BASE_URL": settings.base_url,
    }


class Cli:
    """Runs `clearpixel ...` in-process against the test's installation."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True, input: str | None = None):  # type: ignore[no-untyped-def]
        from clearpixel.cli import app

        result = self.runner.invoke(app, list(args), env=self.env, input=input)
        if ok and result.exit_code != 0:
            raise AssertionError(
                f"clearpixel {' '.join(args)} exited {result.exit_code}:\n{result.output}"
                f"\n{result.exception!r}"
            )
        return result


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Cli:
    return Cli(cli_env)


# --- a real HTTP server and a real browser ---------------------------------------------------


@pytest.fixture
def live_server(ctx: Context) -> Iterator[ThreadedServer]:
    """The app served over real HTTP; its base URL is `live_server.url`."""
    with ThreadedServer(ctx) as server:
        yield server


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, object]:
    """pytest-playwright launches Debian's Chromium (no browser download on these machines)."""
    return {
        "executable_path": os.environ.get("CLEARPIXEL_CHROMIUM", "/usr/bin/chromium"),
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def artifacts_dir() -> Path:
    """Where browser tests keep their screenshots (kept by CI as test artefacts)."""
    path = Path(__file__).parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


PERSON_BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.fixture
def person_page(browser):  # type: ignore[no-untyped-def]
    """A Chromium page that presents itself as a person's browser: headless Chromium's own
    user agent is, rightly, classified as a machine (a scanner that runs scripts)."""
    context = browser.new_context(user_agent=PERSON_BROWSER)
    yield context.new_page()
    context.close()
