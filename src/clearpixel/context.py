"""The running installation: settings, database, token signer and clock, built once and
handed to the services by the CLI and the web app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from clearpixel.config import Settings, load_settings
from clearpixel.domain.flags import Purposes
from clearpixel.domain.policy import TrackingPolicy
from clearpixel.domain.tokens import TokenSigner
from clearpixel.store import Database


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    """Everything a service needs; `now` is the clock, replaceable in tests."""

    settings: Settings
    db: Database
    now: Callable[[], datetime] = field(default=utc_now)
    _signer: TokenSigner | None = None

    @property
    def signer(self) -> TokenSigner:
        if self._signer is None:
            self._signer = TokenSigner(self.settings.signing_keys())
        return self._signer

    @property
    def purposes(self) -> Purposes:
        return self.settings.purpose_set

    @property
    def policy(self) -> TrackingPolicy:
        return self.settings.policy

    @property
    def cooldown(self) -> timedelta:
        return timedelta(days=self.settings.cooldown_days)


def open_context(settings: Settings | None = None, *, migrate: bool = True) -> Context:
    """Connect to the configured database (creating the embedded one on first run)."""
    settings = settings or load_settings()
    db = Database(settings.db_url)
    if migrate:
        db.migrate()
    return Context(settings=settings, db=db)
