"""Machine-open verdicts for real user agents and addresses, with the rule that made each."""

from __future__ import annotations

import pytest

from clearpixel.domain.events import Verdict
from clearpixel.ingest.classify import (
    Classifier,
    RangeSet,
    RulesError,
    load_rules,
    merge_ranges,
    parse_ranges,
    read_cidrs,
)

HOME_IP = "192.0.2.10"

# (user agent, expected verdict, expected reason, rule name)
USER_AGENTS = [
    ("Mozilla/5.0", "machine", "apple_mpp", "apple_mpp_generic"),
    (
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
        "human",
        "",
        "google_image_proxy",
    ),
    (
        "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
        "human",
        "",
        "yahoo_mail_proxy",
    ),
    (
        "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)",
        "human",
        "",
        "outlook_desktop",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.4.2",
        "human",
        "",
        "thunderbird",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148",
        "human",
        "",
        "apple_mail_client",
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UD1A.230803.041; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.163 Mobile Safari/537.36",
        "human",
        "",
        "mobile_webview",
    ),
    ("Barracuda Sentinel (EE)", "machine", "security_scanner", "barracuda"),
    ("Mimecast-URL-Protect/1.0", "machine", "security_scanner", "mimecast"),
    ("Proofpoint URL Defense", "machine", "security_scanner", "proofpoint"),
    ("curl/8.5.0", "machine", "automated", "http_library"),
    ("python-requests/2.31.0", "machine", "automated", "http_library"),
    ("", "unknown", "", "no_rule"),
    ("SomethingOdd/1.0", "unknown", "", "no_rule"),
]


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(load_rules())


@pytest.mark.parametrize(("ua", "verdict", "reason", "rule"), USER_AGENTS)
def test_user_agent_verdicts(classifier, ua, verdict, reason, rule):
    result = classifier.classify(ip=HOME_IP, user_agent=ua)
    assert (result.verdict, result.reason) == (Verdict(verdict), reason)
    name, version = result.rule.split("@")
    assert name.removeprefix("ua:") == rule
    assert version == classifier.rules.ua_version


def test_image_proxies_are_human_even_from_any_address(classifier):
    for ua in ("GoogleImageProxy", "YahooMailProxy"):
        assert classifier.classify(ip="66.249.84.1", user_agent=ua).verdict is Verdict.HUMAN


def test_apple_egress_range_is_mpp_whatever_the_user_agent(classifier):
    result = classifier.classify(ip="17.58.1.2", user_agent=USER_AGENTS[5][0])
    assert (result.verdict, result.reason) == (Verdict.MACHINE, "apple_mpp")
    assert result.rule.startswith("ip:apple_mpp@ip-")


def test_prefetch_header_is_a_machine(classifier):
    result = classifier.classify(
        ip=HOME_IP, user_agent="Mozilla/5.0 (X11)", headers=[(b"purpose", b"Prefetch")]
    )
    assert (result.verdict, result.reason) == (Verdict.MACHINE, "prefetch")


def test_several_addresses_on_one_message_within_seconds_is_a_burst():
    classifier = Classifier(load_rules())
    ua = USER_AGENTS[3][0]
    message = (7, 42)
    got = [
        classifier.classify(ip=f"198.51.100.{i}", user_agent=ua, message=message, at=1000.0 + i)
        for i in range(4)
    ]
    assert [g.verdict for g in got[:2]] == [Verdict.HUMAN, Verdict.HUMAN]
    assert [g.reason for g in got[2:]] == ["burst", "burst"]
    # one address opening again and again is a person rereading, not a burst
    again = [
        classifier.classify(ip=HOME_IP, user_agent=ua, message=(7, 43), at=1000.0 + i)
        for i in range(6)
    ]
    assert {g.verdict for g in again} == {Verdict.HUMAN}
    # the same addresses much later are not a burst
    late = classifier.classify(ip="198.51.100.9", user_agent=ua, message=message, at=5000.0)
    assert late.verdict is Verdict.HUMAN


def test_scanner_network_is_marked_for_the_delivery_check(classifier):
    result = classifier.classify(ip="148.163.130.10", user_agent=USER_AGENTS[3][0])
    assert result.scanner_net and result.verdict is Verdict.HUMAN


def test_range_set_and_loading_ranges():
    ranges = RangeSet(["10.0.0.0/8", "2001:db8::/32", "10.1.0.0/16"])
    assert "10.200.3.4" in ranges and "11.0.0.1" not in ranges
    assert "2001:db8::5" in ranges and "2001:db9::5" not in ranges and "bad" not in ranges
    csv = "172.224.224.0/27,GB,GB-EN,London,\n# comment\n\n104.28.0.0/24,US,US-CA,,\n"
    assert read_cidrs(csv) == ["172.224.224.0/27", "104.28.0.0/24"]
    current = {
        "version": "v",
        "sets": [{"name": "apple_mpp", "reason": "apple_mpp", "cidrs": ["17.0.0.0/8"]}],
    }
    doc = merge_ranges(current, "apple_mpp", parse_reason(), read_cidrs(csv), replace=False)
    version, sets, _ = parse_ranges(doc)
    assert version.startswith("ip-local-") and "172.224.224.5" in sets[0].ranges
    assert "17.1.1.1" in sets[0].ranges
    replaced = merge_ranges(current, "apple_mpp", parse_reason(), ["104.28.0.0/24"], replace=True)
    assert "17.1.1.1" not in parse_ranges(replaced)[1][0].ranges
    with pytest.raises(RulesError, match="not an IP range"):
        merge_ranges(current, "apple_mpp", parse_reason(), ["17.0.0.0/33"], replace=False)


def parse_reason():
    from clearpixel.domain.events import MachineReason

    return MachineReason.APPLE_MPP


def test_the_verdict_cache_is_bounded_by_size_not_only_by_entries():
    """Distinct 50 KB user agents (what a flood can send where heads are not capped; 3,000
    of 100 KB kept +283 MB) leave the classifier holding a few MB at most."""
    import gc
    import tracemalloc

    from clearpixel.ingest.classify import Classifier, load_rules

    classifier = Classifier(load_rules())
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        verdicts = set()
        for i in range(600):
            agent = f"Mozilla/5.0 flood {i} " + "x" * 50_000
            verdicts.add(classifier.classify(ip="203.0.113.9", user_agent=agent).rule)
            del agent
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 8 * 1024 * 1024, f"{kept / 1e6:.0f} MB kept"
    assert len(verdicts) == 1
