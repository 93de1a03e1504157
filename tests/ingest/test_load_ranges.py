"""`clearpixel classify load-ranges FILE`: ranges kept in the data folder, versioned, used by
the next server (rules are loaded once)."""

from __future__ import annotations

from clearpixel.domain.events import Verdict
from clearpixel.ingest.classify import Classifier, load_rules


def test_load_ranges_extends_then_replaces(ctx, cli, settings, tmp_path):
    csv = tmp_path / "egress-ip-ranges.csv"
    csv.write_text("172.224.224.0/27,GB,GB-EN,London,\n104.28.0.0/24,US,US-CA,,\n")
    before = load_rules(settings.data_dir)
    out = cli("classify", "load-ranges", str(csv)).output
    assert "now has 3 ranges" in out
    rules = load_rules(settings.data_dir)
    assert rules.ip_version != before.ip_version and rules.ip_version.startswith("ip-local-")
    result = Classifier(rules).classify(ip="172.224.224.9", user_agent="Thunderbird/115.0")
    assert (result.verdict, result.reason) == (Verdict.MACHINE, "apple_mpp")
    assert rules.ip_version in result.rule

    cli("classify", "load-ranges", str(csv), "--replace")
    rules = load_rules(settings.data_dir)
    assert "17.1.2.3" not in rules.ip_sets[0].ranges  # the default 17/8 was replaced

    scanners = tmp_path / "scanners.txt"
    scanners.write_text("# vendor list\n198.18.0.0/15\n")
    cli(
        "classify",
        "load-ranges",
        str(scanners),
        "--set",
        "scanner_networks",
        "--reason",
        "security_scanner",
    )
    result = Classifier(load_rules(settings.data_dir)).classify(ip="198.18.3.4", user_agent="")
    assert result.scanner_net

    bad = tmp_path / "bad.txt"
    bad.write_text("not-a-range\n")
    result = cli("classify", "load-ranges", str(bad), ok=False)
    assert result.exit_code == 2 and "not-a-range" in result.output
    result = cli("classify", "load-ranges", str(tmp_path / "missing.csv"), ok=False)
    assert result.exit_code == 2 and "missing.csv" in result.output
