"""`clearpixel classify load-ranges FILE`: the machine-open IP ranges."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from clearpixel.cli.base import classify_app, console
from clearpixel.domain.events import MachineReason

if TYPE_CHECKING:
    pass


@classify_app.command("load-ranges")
def load_ranges(
    file: Annotated[
        Path,
        typer.Argument(
            help="CIDRs, one per line, or a CSV whose first column is a range "
            "(Apple's egress-ip-ranges.csv)."
        ),
    ],
    set_name: Annotated[str, typer.Option("--set", help="The range set to change.")] = "apple_mpp",
    reason: Annotated[
        MachineReason, typer.Option(help="Verdict reason for hits from these ranges.")
    ] = MachineReason.APPLE_MPP,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the set instead of extending it.")
    ] = False,
) -> None:
    """Replace or extend an IP range set of the machine-open rules (kept in the data folder)."""
    from clearpixel.config import load_settings
    from clearpixel.ingest.classify import RulesError, install_ranges

    try:
        text = file.read_text()
    except OSError as exc:
        raise RulesError(f"cannot read {file}: {exc.strerror}") from exc
    settings = load_settings()
    version, size = install_ranges(
        settings.data_dir, text, name=set_name, reason=reason, replace=replace
    )
    console.print(
        f"range set {set_name!r} now has {size} ranges (rules version {version}); "
        "restart `clearpixel serve` to use them"
    )
