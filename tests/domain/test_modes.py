"""The tracking-mode registry covers every mode, and each pixel leads back to its mode."""

from __future__ import annotations

from clearpixel.domain.events import HitSource, Verdict
from clearpixel.domain.metrics import Metric
from clearpixel.domain.modes import MODES, PIXEL_TOKEN_KINDS, by_hit_source, pixel_hit_source
from clearpixel.domain.policy import TrackingMode


def test_every_mode_has_one_row():
    assert set(MODES) == set(TrackingMode)


def test_every_pixel_hit_source_leads_to_one_mode():
    pixel_sources = set(HitSource) - {HitSource.CLICK}
    assert {m.hit_source for m in MODES.values() if m.hit_source} == pixel_sources
    for source in pixel_sources:
        assert by_hit_source(source).hit_source is source


def test_a_per_recipient_pixel_token_leads_to_its_hit_source_and_back():
    for kind in PIXEL_TOKEN_KINDS:
        assert by_hit_source(pixel_hit_source(kind)).pixel_token is kind


def test_modes_with_a_per_recipient_pixel_carry_the_preference_link():
    for mode in MODES.values():
        if mode.pixel_token is not None:
            assert mode.preference_footer  # R4


def test_metric_names_per_verdict_are_distinct():
    names = [m.by(v) for m in Metric for v in Verdict] + [str(m) for m in Metric]
    assert len(names) == len(set(names))
    assert Metric.IMPLICIT_OPENERS.by(Verdict.HUMAN) == "implicit_openers_human"  # as stored
