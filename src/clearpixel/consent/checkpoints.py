"""Signed checkpoints of the consent ledger's head, kept outside the database (R21).

The signing key is an Ed25519 private key in a file (`CLEARPIXEL_LEDGER_KEY_FILE`, default
`ledger_key.pem` in the data folder, created by `clearpixel init`), never in the database;
its public key (`ledger_key.pub.pem` beside it, and in every checkpoint) is what a
data-protection officer or a third party keeps to check checkpoints without trusting anyone.
`serve` writes a checkpoint on a schedule when the head moved, `clearpixel ledger checkpoint`
on demand; each is one JSON file in the checkpoint folder (default `checkpoints/` in the data
folder). Every check of the ledger (`ledger verify`, `flags check`, `check`, the proof of
consent) compares the chain with those files and any others it is given.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from clearpixel.config import ConfigError, Settings
from clearpixel.context import Context
from clearpixel.domain import checkpoints as signed
from clearpixel.domain.checkpoints import Checkpoint, CheckpointError
from clearpixel.store.db import Tx
from clearpixel.store.ledger import hash_at, last_seq, origin, read_head

log = logging.getLogger("clearpixel.ledger")


def ensure_ledger_key(settings: Settings) -> Path:
    """Create the checkpoint signing key (mode 0600) and its public key file when missing."""
    path = settings.ledger_key_path
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
    public_path = public_key_path(settings)
    if not public_path.exists():
        public_path.write_bytes(public_key_pem(load_private_key(settings).public_key()))
    return path


def public_key_path(settings: Settings) -> Path:
    path = settings.ledger_key_path
    return path.with_name(path.name.removesuffix(".pem") + ".pub.pem")


def load_private_key(settings: Settings) -> Ed25519PrivateKey:
    """The signing key; raises ConfigError when it is missing or not an Ed25519 key."""
    path = settings.ledger_key_path
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise ConfigError(
            f"no ledger signing key at {path}: run `clearpixel init` or set "
            "CLEARPIXEL_LEDGER_KEY_FILE"
        ) from exc
    except ValueError as exc:
        raise ConfigError(f"{path} is not a PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 key")
    return key


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key from a PEM file (what a DPO keeps); raises ConfigError otherwise."""
    try:
        key = load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read a public key from {path}: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path} is not an Ed25519 public key")
    return key


def installation_keys(settings: Settings) -> list[Ed25519PublicKey]:
    """The public key of this installation's signing key ([] when it has none yet)."""
    if settings.ledger_key_path.exists():
        return [load_private_key(settings).public_key()]
    if public_key_path(settings).exists():
        return [load_public_key(public_key_path(settings))]
    return []


def write_checkpoint(ctx: Context, *, folder: Path | None = None) -> tuple[Checkpoint, Path]:
    """Sign the current ledger head and write it to the checkpoint folder (or `folder`).

    Effects: one file `ledger-<seq>-<time>.json`, written then renamed, never overwritten."""
    key = load_private_key(ctx.settings)
    with ctx.db.connect() as conn:
        seq, head_hash = read_head(conn)
    now = ctx.now()
    checkpoint = signed.sign(key, seq=seq, hash=head_hash, at=_iso(now))
    target = folder or ctx.settings.checkpoint_path
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"ledger-{seq:012d}-{now:%Y%m%dT%H%M%S%fZ}.json"
    draft = path.with_suffix(".draft")
    draft.write_text(checkpoint.to_json())
    os.replace(draft, path)
    return checkpoint, path


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Found:
    """One checkpoint file as read: the checkpoint, or why it cannot be used."""

    path: Path
    checkpoint: Checkpoint | None
    problem: str = ""


def read_checkpoints(paths: Iterable[Path], trusted: list[Ed25519PublicKey]) -> list[Found]:
    """Every checkpoint in `paths` (files, or folders of `*.json`), signature checked
    against the `trusted` keys. Unreadable files and bad signatures come back with a
    problem, never silently skipped."""
    found: list[Found] = []
    for path in paths:
        files = sorted(path.glob("*.json")) if path.is_dir() else [path]
        for file in files:
            try:
                checkpoint = signed.from_json(file.read_text())
            except (OSError, UnicodeDecodeError, CheckpointError) as exc:
                found.append(Found(file, None, f"{file}: {exc}"))
                continue
            if not signed.signature_ok(checkpoint, trusted):
                found.append(
                    Found(
                        file,
                        None,
                        f"{file}: not signed by a trusted ledger key (key {checkpoint.key_id}); "
                        "forged, altered, or signed by a key you did not pass with --public-key",
                    )
                )
                continue
            found.append(Found(file, checkpoint))
    return found


def gather(
    settings: Settings,
    extra: Iterable[Path] = (),
    *,
    public_keys: Iterable[Path] = (),
) -> list[Found]:
    """The installation's own checkpoints (its checkpoint folder) and those in `extra`,
    checked against the public keys in `public_keys` when given (what someone who does not
    trust this server passes), else against the installation's own key."""
    given = [load_public_key(path) for path in public_keys]
    trusted = given or installation_keys(settings)
    folder = settings.checkpoint_path
    paths = [folder] if folder.exists() else []
    return read_checkpoints([*paths, *extra], trusted)


def current_checkpoints(tx: Tx, found: list[Found]) -> tuple[list[Found], int, str]:
    """Split checkpoints into those of the current chain and those of the former chain
    (before the ledger was re-chained in the commitment format): (current, how many
    former, the first problem: an unreadable checkpoint, or a former one the re-chained
    ledger's record of the former head contradicts)."""
    current: list[Found] = []
    former = 0
    start = origin(tx)
    for item in found:
        if item.checkpoint is None:
            return [], 0, item.problem
        if not item.checkpoint.former:
            current.append(item)
            continue
        former += 1
        problem = signed.former_contradiction(
            item.checkpoint,
            origin_seq=start[0] if start else None,
            origin_hash=start[1] if start else None,
        )
        if problem:
            return [], former, f"{problem} ({item.path.name})"
    return current, former, ""


def compare_stored(tx: Tx, found: list[Found]) -> str:
    """The first contradiction between the stored chain and a checkpoint ("" when none):
    the chain's end and its stored hash at each checkpoint's seq. Cheap (one lookup per
    checkpoint); `ledger verify` also recomputes every hash."""
    found, _, problem = current_checkpoints(tx, found)
    if problem:
        return problem
    end = last_seq(tx)
    for item in found:
        assert item.checkpoint is not None
        problem = signed.contradiction(
            item.checkpoint, chain_end=end, hash_at_seq=hash_at(tx, item.checkpoint.seq)
        )
        if problem:
            return f"{problem} ({item.path.name})"
    return ""


async def run_schedule(ctx: Context, *, every: float) -> None:
    """Write a checkpoint every `every` seconds when the head moved since the last one
    (`serve` runs this; a failure is logged and retried next time)."""
    last: tuple[int, str] | None = None
    while True:
        try:
            last = await asyncio.to_thread(_checkpoint_if_moved, ctx, last)
        except Exception:  # the schedule must outlive a database outage
            log.exception("ledger checkpoint not written")
        await asyncio.sleep(every)


def _checkpoint_if_moved(ctx: Context, last: tuple[int, str] | None) -> tuple[int, str]:
    with ctx.db.connect() as conn:
        head = read_head(conn)
    if head != last:
        checkpoint, _ = write_checkpoint(ctx)
        head = (checkpoint.seq, checkpoint.hash)
    return head
