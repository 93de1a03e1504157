"""Settings from `CLEARPIXEL_*` environment variables and `.env`; fail fast on bad values.

Secret keys have no default: they come from `CLEARPIXEL_SECRET_KEYS` (comma-separated, newest
first) or from the `secret_keys` file that `clearpixel init` writes into the data folder.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from clearpixel.domain.errors import ClearpixelError
from clearpixel.domain.flags import DEFAULT_PURPOSES, Purposes
from clearpixel.domain.policy import Strategy, TrackingMode, TrackingPolicy
from clearpixel.domain.retention import (
    DEFAULT_LAST_OPEN_DAYS,
    DEFAULT_PERSONAL_EVENTS_DAYS,
    DEFAULT_PROOF_AFTER_ERASURE_DAYS,
    DEFAULT_SPILL_HOURS,
    Window,
    windows,
)

MIN_COOLDOWN_DAYS = 183
SECRET_KEYS_FILE = "secret_keys"
LEDGER_KEY_FILE = "ledger_key.pem"


class ConfigError(ClearpixelError, RuntimeError):
    """A setting that is missing or not allowed; the message names it."""


class Settings(BaseSettings):
    """Every installation setting, with the environment variable that sets it."""

    model_config = SettingsConfigDict(
        env_prefix="CLEARPIXEL_", env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Path("clearpixel-data")
    database_url: str = ""
    base_url: str = "http://127.0.0.1:8000"
    secret_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    organisation: str = "Example Organisation"
    privacy_policy_url: str = "https://example.org/privacy"
    from_address: str = "newsletter@example.org"
    unsubscribe_mailto: str = "unsubscribe@example.org"
    strategy: Strategy = Strategy.CONSENT
    nonconsent_mode: TrackingMode = TrackingMode.ANONYMOUS
    transactional_mode: TrackingMode = TrackingMode.PERSONAL
    security_mode: TrackingMode = TrackingMode.ANONYMOUS
    purposes: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_PURPOSES)
    )
    cooldown_days: int = MIN_COOLDOWN_DAYS
    consent_link_days: int = 30
    consent_page_timeout_minutes: int = 60
    signup_confirmation: Literal["double", "single"] = "double"
    signup_link_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 48
    signup_mails_per_address_per_day: Annotated[int, Field(ge=1)] = 3
    signup_forms_per_network_per_hour: Annotated[int, Field(ge=1)] = 30
    smtp_url: str = ""
    dkim_selector: str = ""
    dkim_domain: str = ""
    dkim_key_file: Path | None = None
    ledger_key_file: Path | None = None
    checkpoint_dir: Path | None = None
    checkpoint_minutes: float = Field(default=60, gt=0)
    ingest_lag_seconds: float = Field(default=60, gt=0)
    bounce_domain: str = ""
    soft_bounce_limit: Annotated[int, Field(ge=1)] = 3
    soft_bounce_window_days: Annotated[int, Field(ge=1)] = 30
    bounce_webhook_secrets: Annotated[list[str], NoDecode] = Field(default_factory=list)
    feedback_id_sender: str = "clearpixel"
    postmark_webhook_auth: str = ""
    webhook_allow_private: bool = False
    ses_topic_arns: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # sns.<region>.amazonaws.com only: a looser label would also match hosts others control
    # (sns.s3.amazonaws.com is the S3 bucket named "sns")
    ses_sns_host_pattern: str = (
        r"sns\.[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+\.amazonaws\.com(\.cn)?"
    )
    ses_max_age_seconds: Annotated[int, Field(ge=60)] = 3600
    retention_personal_events_days: int = Field(default=DEFAULT_PERSONAL_EVENTS_DAYS, ge=1)
    retention_last_open_days: int = Field(default=DEFAULT_LAST_OPEN_DAYS, ge=1)
    retention_spill_hours: int = Field(default=DEFAULT_SPILL_HOURS, ge=1)
    retention_proof_after_erasure_days: int = Field(default=DEFAULT_PROOF_AFTER_ERASURE_DAYS, ge=1)
    # scale-out on NATS JetStream (docs/deployment.md); empty URL: no NATS at all
    nats_url: str = ""
    nats_stream: str = "CLEARPIXEL_HITS"
    nats_subject: str = "clearpixel.hits"
    nats_consumer: str = "clearpixel-ingest"
    nats_links_bucket: str = "clearpixel-links"
    nats_retention_hours: int = Field(default=72, ge=1, le=24 * 7)
    nats_max_deliver: int = Field(default=5, ge=1)
    nats_max_ack_pending: int = Field(default=64, ge=1)
    nats_ack_wait_seconds: float = Field(default=60, gt=0)
    # scheduled sends: the zone times are shown and typed in (stored in UTC), and how often
    # `serve` looks for a campaign whose time has come
    timezone: str = "UTC"
    schedule_check_seconds: float = Field(default=30, gt=0)

    @field_validator("secret_keys", "bounce_webhook_secrets", "ses_topic_arns", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("ses_sns_host_pattern")
    @classmethod
    def _host_pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(
                f"CLEARPIXEL_SES_SNS_HOST_PATTERN is not a regular expression: {exc}"
            ) from None
        return value

    @field_validator("purposes", mode="before")
    @classmethod
    def _parse_purposes(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    'CLEARPIXEL_PURPOSES must be JSON, e.g. {"open_tracking": 1}'
                ) from exc
        return value

    @field_validator("cooldown_days")
    @classmethod
    def _cooldown_floor(cls, value: int) -> int:
        if value < MIN_COOLDOWN_DAYS:
            raise ValueError(
                f"CLEARPIXEL_COOLDOWN_DAYS={value} is below the minimum of "
                f"{MIN_COOLDOWN_DAYS} days (six months) after a refusal"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"CLEARPIXEL_TIMEZONE={value!r} is not a time zone name (e.g. Europe/Paris, UTC)"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The installation's time zone: scheduled times are typed and shown in it."""
        return ZoneInfo(self.timezone)

    @field_validator("purposes")
    @classmethod
    def _valid_purposes(cls, value: dict[str, int]) -> dict[str, int]:
        Purposes(value)
        return value

    @property
    def db_url(self) -> str:
        """The database URL; the embedded default is SQLite in the data folder."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'clearpixel.db').resolve()}"

    @property
    def ledger_key_path(self) -> Path:
        """The Ed25519 key that signs ledger checkpoints (outside the database)."""
        return self.ledger_key_file or self.data_dir / LEDGER_KEY_FILE

    @property
    def checkpoint_path(self) -> Path:
        """The folder where signed ledger checkpoints are written."""
        return self.checkpoint_dir or self.data_dir / "checkpoints"

    @cached_property
    def purpose_set(self) -> Purposes:
        return Purposes(self.purposes)

    @property
    def policy(self) -> TrackingPolicy:
        return TrackingPolicy(
            strategy=self.strategy,
            nonconsent_mode=self.nonconsent_mode,
            transactional_mode=self.transactional_mode,
            security_mode=self.security_mode,
        )

    @property
    def retention(self) -> list[Window]:
        """The retention windows in force (`clearpixel check` flags any beyond its maximum)."""
        return windows(
            personal_events_days=self.retention_personal_events_days,
            last_open_days=self.retention_last_open_days,
            spill_hours=self.retention_spill_hours,
            proof_days=self.retention_proof_after_erasure_days,
        )

    def signing_keys(self) -> list[bytes]:
        """Secret keys, newest first; raises ConfigError when there are none."""
        keys = list(self.secret_keys)
        key_file = self.data_dir / SECRET_KEYS_FILE
        if not keys and key_file.exists():
            keys = [line.strip() for line in key_file.read_text().splitlines() if line.strip()]
        if not keys:
            raise ConfigError(
                "no secret key: set CLEARPIXEL_SECRET_KEYS or run `clearpixel init` "
                f"to generate {key_file}"
            )
        return [key.encode() for key in keys]


def load_settings() -> Settings:
    """Read settings from the environment; raise ConfigError naming a bad value."""
    try:
        return Settings()
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def ensure_secret_keys(settings: Settings) -> Path:
    """Create the data folder and, if no key exists yet, a fresh random signing key file."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key_file = settings.data_dir / SECRET_KEYS_FILE
    if not key_file.exists() and not settings.secret_keys:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
    return key_file
