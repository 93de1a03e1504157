"""The tracking modes as one registry (DESIGN §3, §5): for each mode, the token that signs
its per-recipient pixel, the source a hit on that pixel arrives as, whether the footer
carries the one-click preference link, and whether its opens feed the last-open date.

The renderer, the request path, ingest and the campaign report read these rows instead of
naming modes themselves, so a new mode is a `TrackingMode` value, a row here, and (if it
has a pixel of its own) a `TokenKind` and a `HitSource`.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearpixel.domain.events import HitSource
from clearpixel.domain.policy import TrackingMode
from clearpixel.domain.tokens import TokenKind


@dataclass(frozen=True, slots=True)
class Mode:
    """What one tracking mode means on every path."""

    mode: TrackingMode
    pixel_token: TokenKind | None  # the per-recipient pixel's token; None: no such pixel
    hit_source: HitSource | None  # what a hit on its pixel is; None: it has no pixel
    names_purposes: bool  # the pixel names the purposes granted at send time (DESIGN §3)
    preference_footer: bool  # the footer carries the one-click preference link (R4)
    sets_last_open: bool  # an open sets the contact's last-open date (R6)


MODES: dict[TrackingMode, Mode] = {
    m.mode: m
    for m in (
        Mode(TrackingMode.PERSONAL, TokenKind.PIXEL, HitSource.PERSONAL, True, True, True),
        Mode(
            TrackingMode.DELIVERABILITY,
            TokenKind.DELIVERABILITY,
            HitSource.DELIVERABILITY,
            False,
            True,
            True,
        ),
        Mode(TrackingMode.ANONYMOUS, None, HitSource.ANONYMOUS, False, False, False),
        Mode(TrackingMode.NONE, None, None, False, False, False),
    )
}

_BY_SOURCE = {m.hit_source: m for m in MODES.values() if m.hit_source is not None}
_BY_TOKEN = {m.pixel_token: m for m in MODES.values() if m.pixel_token is not None}

PIXEL_TOKEN_KINDS: tuple[TokenKind, ...] = tuple(_BY_TOKEN)
"""The token kinds a per-recipient pixel URL may carry."""


def mode_of(mode: TrackingMode) -> Mode:
    return MODES[mode]


def by_hit_source(source: HitSource) -> Mode:
    """The mode whose pixel a hit came through (KeyError for a click, which has none)."""
    return _BY_SOURCE[source]


def by_pixel_token(kind: TokenKind) -> Mode:
    """The mode whose per-recipient pixel is signed with `kind`."""
    return _BY_TOKEN[kind]


def pixel_hit_source(kind: TokenKind) -> HitSource:
    """What a hit on a per-recipient pixel signed with `kind` is."""
    source = _BY_TOKEN[kind].hit_source
    assert source is not None, "every per-recipient pixel has a hit source"
    return source
