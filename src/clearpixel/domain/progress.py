"""How long work says how far it has got: a callback the caller passes (a progress bar in the
CLI, nothing in the web layer), called with what is done so far and the total."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int], None]
"""`progress(done, total)`: `done` of `total` items handled so far."""

PhasedProgress = Callable[[str, int, int], None]
"""`progress(phase, done, total)`: the same for work in named phases (read, check, write)."""

RunningCount = Callable[[int], None]
"""`progress(done)`: items handled so far, for work whose total is not known in advance."""
