import pytest

from clearpixel.domain.policy import (
    MessageKind as K,
)
from clearpixel.domain.policy import (
    PolicyError,
    Strategy,
    TrackingPolicy,
    decide,
    decide_at_ingest,
)
from clearpixel.domain.policy import (
    TrackingMode as M,
)

DEFAULT = TrackingPolicy()

# DESIGN §3, row by row.
TABLE = [
    (Strategy.CONSENT, K.MARKETING, 1, M.PERSONAL),
    (Strategy.CONSENT, K.MARKETING, 3, M.PERSONAL),
    (Strategy.CONSENT, K.MARKETING, None, M.ANONYMOUS),
    (Strategy.CONSENT, K.MARKETING, 0, M.ANONYMOUS),
    (Strategy.CONSENT, K.MARKETING, 2, M.ANONYMOUS),
    (Strategy.ANONYMOUS_ONLY, K.MARKETING, 1, M.ANONYMOUS),
    (Strategy.LEGACY, K.MARKETING, None, M.PERSONAL),
    (Strategy.CONSENT, K.TRANSACTIONAL, None, M.PERSONAL),
    (Strategy.CONSENT, K.SECURITY, 1, M.ANONYMOUS),
    (Strategy.CONSENT, K.CONSENT_REQUEST, 1, M.NONE),
    (Strategy.LEGACY, K.CONSENT_REQUEST, 1, M.NONE),
]


@pytest.mark.parametrize(("strategy", "kind", "flags", "mode"), TABLE)
def test_decision_table(strategy, kind, flags, mode):
    assert decide(TrackingPolicy(strategy=strategy), kind, flags) is mode


@pytest.mark.parametrize("mode", [M.DELIVERABILITY, M.NONE])
def test_nonconsent_mode_is_configurable(mode):
    policy = TrackingPolicy(nonconsent_mode=mode)
    assert decide(policy, K.MARKETING, None) is mode
    assert decide(policy, K.MARKETING, 1) is M.PERSONAL


def test_nonconsent_mode_can_never_be_personal():
    with pytest.raises(PolicyError):
        TrackingPolicy(nonconsent_mode=M.PERSONAL)


def test_legacy_is_reported_not_compliant():
    assert not TrackingPolicy(strategy=Strategy.LEGACY).compliant
    assert DEFAULT.compliant


def test_personal_pixel_after_withdrawal_counts_anonymously():
    assert decide_at_ingest(DEFAULT, K.MARKETING, M.PERSONAL, 0) is M.ANONYMOUS
    assert decide_at_ingest(DEFAULT, K.MARKETING, M.PERSONAL, 1) is M.PERSONAL


def test_consent_granted_after_send_never_upgrades_an_anonymous_pixel():
    assert decide_at_ingest(DEFAULT, K.MARKETING, M.ANONYMOUS, 1) is M.ANONYMOUS
    assert decide_at_ingest(DEFAULT, K.MARKETING, M.DELIVERABILITY, 1) is M.DELIVERABILITY
