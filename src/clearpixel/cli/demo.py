"""`clearpixel demo`: a ready-to-explore installation in the data folder."""

from __future__ import annotations

from clearpixel.cli.base import app, console
from clearpixel.cli.foundation import init


@app.command()
def demo() -> None:
    """Initialise the embedded installation and show what it holds."""
    init()
    console.print("Installation ready. Next: `clearpixel lists create NAME`.")
