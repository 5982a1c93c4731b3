"""Odd names: test ids and grouping-key values with `/`, spaces, quotes, backslashes, unicode and
great length round-trip exactly through a real Pushgateway, or are shortened by the documented
rule (prefix + `…#` + hash of the whole id) that never merges two tests."""

from __future__ import annotations

import base64
import hashlib

import pytest

from reporting.grouping import group_path, path_segment
from reporting.label_values import MAX_LABEL_CHARS, LabelValues, shortened
from tests.reporting_samples.support import (
    gateway_data,
    group_series,
    isolated,
    run_inline,
    running_gateway,
)

ODD_IDS = [
    "a/b c", 'say "hi"', "back\\slash", "ünïcødé ✓ 日本", "new\nline", "tab\there", "'single'",
    "percent%2Fenc+plus", "..", "x" * 300, "x" * 299 + "y",
]
ODD_GROUP = {
    "job": "mcp e2e/odd",
    "env": 'eu/west 1 "q" \\ ü',
    "suite": "..",
    "shard": "s" * 300,
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    yield from running_gateway(tmp_path_factory)


def test_odd_test_ids_and_group_values_round_trip(pytester, monkeypatch, gateway):
    suite = isolated(pytester, monkeypatch)
    suite.makeini("[pytest]\n"
                  "disable_test_id_escaping_and_forfeit_all_rights_to_community_support = true\n")
    suite.makepyfile(test_odd=f"""
        import pytest

        @pytest.mark.parametrize("name", {ODD_IDS!r}, ids={ODD_IDS!r})
        def test_odd(name):
            assert name != "tab\\there"

        def test_ünïcode_name():
            pass
    """)
    deep = suite.mkdir("süb dir")
    (deep / "test_deep.py").write_text("def test_deep():\n    pass\n")

    result = run_inline(suite, "--pushgateway-url", gateway.url,
                        *(f"--metrics-{name}={val}" for name, val in ODD_GROUP.items()))

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    nodeids = {report.nodeid for report in result.reprec.getreports("pytest_runtest_logreport")}
    assert len(nodeids) == len(ODD_IDS) + 2
    assert [group["labels"] for group in gateway_data(gateway.url)] == [ODD_GROUP]

    series = group_series(gateway.url, ODD_GROUP, "e2e_test_passed")
    pushed = {entry["test"]: entry for entry in series}
    assert len(pushed) == len(nodeids)  # no two tests merged
    short = {nodeid for nodeid in nodeids if len(nodeid) <= MAX_LABEL_CHARS}
    assert short <= set(pushed)  # exact, character for character
    assert "test_odd.py::test_odd[tab\there]" in short
    assert pushed["süb dir/test_deep.py::test_deep"]["file"] == "süb dir/test_deep.py"
    long_ones = sorted(nodeids - short)
    assert len(long_ones) == 2
    for nodeid in long_ones:
        label = shortened(nodeid)
        assert label in pushed
        assert len(label) == MAX_LABEL_CHARS
        digest = hashlib.sha256(nodeid.encode()).hexdigest()[:16]
        assert label == nodeid[:MAX_LABEL_CHARS - 18] + "…#" + digest
    assert {entry["test"]: entry["file"] for entry in series}[shortened(long_ones[0])] == (
        "test_odd.py")


def test_shortening_is_stable_and_never_merges():
    long_a, long_b = "t" * 500, "t" * 499 + "u"
    assert shortened("test_x.py::test_y[a/b]") == "test_x.py::test_y[a/b]"
    assert shortened(long_a) == shortened(long_a)  # stable across calls and runs
    assert shortened(long_a) != shortened(long_b)
    assert shortened(long_a)[:182] == shortened(long_b)[:182] == "t" * 182
    assert len(shortened("é" * 1000)) == MAX_LABEL_CHARS
    # A lone surrogate cannot be UTF-8: escaped, and hashed so it cannot meet its escape.
    assert shortened("a\udc80").startswith("a\\udc80…#")
    assert shortened("a\udc80") != "a\\udc80"
    # A secret never reaches a label, nor its hash.
    assert shortened("test[tok-secret-123]", ["tok-secret-123"]).startswith("test[***]…#")

    collider = shortened(long_a)  # a (contrived) test literally named like another's short form
    # In either order (a run sorts by node id, so long_a comes first): two tests, two labels;
    # the first keeps its usual label, the later one hashes again with a counter.
    for order in ([collider, long_a], [long_a, collider]):
        values = LabelValues()
        labels = [values(v) for v in order]
        assert labels[0] == shortened(order[0])
        assert labels[1] != labels[0]
        assert labels[1] == shortened(order[1], salt=2)
        assert [values(v) for v in order] == labels  # stable within the run

    # Ids that differ only where a secret was redact alike: still one label each, no secret.
    values = LabelValues(["aaa"])
    labels = {values(v) for v in ("t[aaa**]", "t[*aaa*]", "t[**aaa]")}
    assert len(labels) == 3
    assert not any("aaa" in label for label in labels)


@pytest.mark.parametrize(("value", "segment"), [
    ("mcp_e2e", "env/mcp_e2e"),
    ("", "env@base64/="),
    ("a/b", "env@base64/" + base64.urlsafe_b64encode(b"a/b").decode()),
    ("..", "env@base64/Li4="),
    (".", "env@base64/Lg=="),
    ("ü?~", "env@base64/" + base64.urlsafe_b64encode("ü?~".encode()).decode()),
])
def test_grouping_values_use_base64_unless_plain(value, segment):
    assert path_segment("env", value) == segment
    if "@base64/" in segment and value:
        assert base64.urlsafe_b64decode(segment.split("/", 1)[1]).decode() == value


def test_group_path_orders_labels_like_the_gateway():
    assert group_path("j/1", {"suite": "e2e", "env": "local"}) == (
        "/metrics/job@base64/ai8x/env/local/suite/e2e")


def test_the_fast_exposition_equals_prometheus_clients():
    from prometheus_client import generate_latest
    from prometheus_client.core import CounterMetricFamily

    from reporting.collector import ResultCollector
    from reporting.exposition import render
    from reporting.metrics import build_families
    from reporting.run_info import RunFacts

    collector = ResultCollector()
    for index, name in enumerate(ODD_IDS):
        report = type("Report", (), {"nodeid": f"t.py::test[{name}]", "when": "call",
                                     "duration": 0.5 * index, "user_properties": []})()
        collector.add_test_report(report, "passed" if index % 2 else "failed")
    run = RunFacts(exit_status=1, started=1.0, finished=2.5, version="0\n1", git_sha='"x"',
                   branch="a\\b", target="embedded", last_success=1e10)
    families = [*build_families(collector.results(), run),
                CounterMetricFamily("other_things", "A counter.", value=3)]

    class Registry:
        def collect(self):
            yield from families

    assert render(families) == generate_latest(Registry())
