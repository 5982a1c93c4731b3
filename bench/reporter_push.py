"""The reporter's cost per run size, against a real Pushgateway, next to the suite's own time.

    .venv/bin/python -m bench.reporter_push [--sizes 100,1000,10000,50000] [--no-suite]

For each size N it builds a synthetic run of N results (N tests x setup/call/teardown reports
fed through the real `ResultCollector`, 2 % failing, every 50th flaky, Chromium/Firefox ids)
and publishes it exactly as the plugin does at session end (`build_families` + `publish`:
read the gateway's state, check, carry the last success, render, one PUT), with the
cardinality guard off (`--metrics-max-tests 0`) so all N tests are pushed. The gateway already
holds the previous run of the same size (a warm-up push), as a nightly job's gateway does.

- time: wall time of one publication, best of 3 (no tracemalloc running);
- memory: tracemalloc peak of one more publication, and bytes per result (linear if flat);
- PUTs: the gateway's own request counter across the measured publications, per run;
- baseline: what plugins that push after every test do (`pushadd_to_gateway` per test, one
  group per test), on an emptied gateway, capped at 1 000 pushes and extrapolated linearly to
  N (marked `*`);
- suite: wall time of a real `pytest` run of N trivial tests with the reporter off
  (`--no-metrics`) and on (pushing all N to the same gateway), both in subprocesses,
  alternated, best of 2 (of 1 for 50 000); and, measured inside the reporter-on run by the
  `bench.reporter_timer` plugin, the reporter's own time (its per-report hooks + session end),
  with its share of the reporter-off wall time — steadier than the wall-time difference on a
  shared machine.

Targets: 10 000 results in <= 1 s end to end; memory linear; one HTTP push per run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import httpx
from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway
from prometheus_client.parser import text_string_to_metric_families

from harness.services import start_pushgateway
from reporting.auth import GatewayAuth
from reporting.cardinality import select_tests
from reporting.collector import ResultCollector, RunResults
from reporting.metrics import build_families
from reporting.push import PushTarget, publish
from reporting.run_info import RunFacts

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = (100, 1_000, 10_000, 50_000)
BASELINE_CAP = 1_000
SUITE_REPEATS = 2
TARGET_SIZE, TARGET_SECONDS = 10_000, 1.0


def synthetic_results(size: int) -> RunResults:
    """N tests' reports through the real collector, as the controller would receive them."""
    collector = ResultCollector()
    for index in range(size):
        browser = "firefox" if index % 3 == 0 else "chromium"
        nodeid = f"e2e/test_area_{index // 200:03d}.py::test_case_{index % 200}[{browser}]"
        failing = index % 50 == 7
        flaky = index % 50 == 13
        attempts = (("rerun", "passed") if flaky else ("failed",) if failing else ("passed",))
        for call_category in attempts:
            for when, category in (("setup", ""), ("call", call_category), ("teardown", "")):
                report = SimpleNamespace(nodeid=nodeid, when=when, duration=0.001,
                                         user_properties=[], count_towards_summary=True)
                collector.add_test_report(report, category)
    return collector.results()


def publication(results: RunResults, target: PushTarget) -> Callable[[], None]:
    def run_once() -> None:
        finished = time.time()
        run = RunFacts(exit_status=1, started=finished - 60, finished=finished, version="0.1.0",
                       git_sha="0" * 40, branch="main", target="embedded", last_success=None)
        families = build_families(results, run, select_tests(results.tests, 0))
        result, _body = publish(families, target, GatewayAuth())
        if not result.ok:
            raise SystemExit(f"push failed: {result.detail}")

    return run_once


def per_test_baseline(results: RunResults, url: str, job: str) -> float:
    """Seconds for min(N, cap) per-test pushes, one group per test."""
    tests = results.tests[:BASELINE_CAP]
    started = time.perf_counter()
    for test in tests:
        registry = CollectorRegistry()
        Gauge("e2e_test_passed", "passed", ["file", "browser"], registry=registry).labels(
            test.file, test.browser).set(1 if test.passed else 0)
        Gauge("e2e_test_duration_seconds", "duration", ["browser"], registry=registry).labels(
            test.browser).set(test.duration)
        pushadd_to_gateway(url, job=job, registry=registry, grouping_key={"test": test.nodeid},
                           timeout=30)
    return time.perf_counter() - started


def suite_wall_time(size: int, folder: Path, extra: list[str]) -> tuple[float, float]:
    """Wall time of `pytest` on `size` trivial tests, and the reporter's own time inside it."""
    test_file = folder / "test_synthetic.py"
    test_file.write_text(textwrap.dedent(f"""
        import pytest

        @pytest.mark.parametrize("i", range({size}))
        def test_case(i):
            pass
    """))
    timer = folder / "reporter-time.json"
    timer.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REPORTER_TIMER_FILE": str(timer)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:playwright",
         "-p", "bench.reporter_timer", "--rootdir", str(folder), str(test_file), *extra],
        cwd=folder, capture_output=True, text=True, timeout=900, check=False, env=env,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"synthetic suite of {size} failed:\n{done.stdout[-2000:]}")
    spent = json.loads(timer.read_text())
    return elapsed, spent["per_report"] + spent["session_end"]


def put_count(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    return sum(sample.value for family in text_string_to_metric_families(text)
               if family.name == "pushgateway_http_requests" for sample in family.samples
               if sample.labels.get("handler") == "push" and sample.labels.get("method") == "put")


def measure(
    size: int, url: str, with_suite: bool, folder: Path, baselines: dict[int, float]
) -> dict[str, object]:
    results = synthetic_results(size)
    target = PushTarget(url=url, job=f"bench_{size}", grouping_key={"env": "bench"},
                        timeout=60, retries=0)
    run_once = publication(results, target)
    wipe(url)
    run_once()  # warm-up: the gateway now holds a run of this size, as in steady state
    puts_before = put_count(url)
    times = []
    for _ in range(3):
        gc.collect()
        started = time.perf_counter()
        run_once()
        times.append(time.perf_counter() - started)
    puts = (put_count(url) - puts_before) / 3
    gc.collect()
    tracemalloc.start()
    run_once()
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    pushes = min(size, BASELINE_CAP)
    if pushes not in baselines:  # on a clean gateway, which flatters the baseline
        wipe(url)
        baselines[pushes] = per_test_baseline(results, url, "bench_per_test")
    baseline = baselines[pushes] / pushes * size
    wipe(url)
    row: dict[str, object] = {
        "size": size, "seconds": min(times), "peak": peak, "puts": puts,
        "baseline": baseline, "extrapolated": pushes < size,
    }
    if with_suite:  # alternated, best of SUITE_REPEATS: the machine may be shared
        reporter_on = ["--pushgateway-url", url, "--metrics-job", f"bench_suite_{size}",
                       "--metrics-max-tests", "0", "--metrics-push-timeout", "60"]
        offs, ons, inside = [], [], []
        for _ in range(SUITE_REPEATS if size <= 10_000 else 1):
            offs.append(suite_wall_time(size, folder, ["--no-metrics"])[0])
            wall, spent = suite_wall_time(size, folder, reporter_on)
            ons.append(wall)
            inside.append(spent)
        row["suite_off"], row["suite_on"], row["inside"] = min(offs), min(ons), min(inside)
        wipe(url)
    return row


def wipe(url: str) -> None:
    httpx.put(f"{url}/api/v1/admin/wipe", timeout=60).raise_for_status()


def print_table(rows: list[dict[str, object]]) -> None:
    header = ("| results | build + push | peak memory | bytes/result | PUTs/run | per-test push "
              "(baseline) | baseline / ours | suite, reporter off | suite, reporter on | "
              "reporter inside that run |")
    print(header)
    print("|" + "---|" * header.count(" | ") + "---|")
    for row in rows:
        star = "*" if row["extrapolated"] else ""
        suite_off = f"{row['suite_off']:.2f} s" if "suite_off" in row else "-"
        suite_on = f"{row['suite_on']:.2f} s" if "suite_on" in row else "-"
        inside = (f"{row['inside']:.2f} s ({row['inside'] / row['suite_off']:.1%})"
                  if "inside" in row else "-")
        print(f"| {row['size']:,} | {row['seconds']:.3f} s | {row['peak'] / 2**20:.1f} MiB | "
              f"{row['peak'] / row['size']:,.0f} | {row['puts']:g} | "
              f"{row['baseline']:.2f} s{star} | {row['baseline'] / row['seconds']:,.0f}x | "
              f"{suite_off} | {suite_on} | {inside} |")
    print(f"\n* per-test pushes capped at {BASELINE_CAP:,} (on an emptied gateway) and "
          "extrapolated linearly to the size;\n  a real per-test plugin does worse: the gateway "
          "re-checks every group it holds on each push.")


def print_verdicts(rows: list[dict[str, object]]) -> None:
    by_size = {row["size"]: row for row in rows}
    if TARGET_SIZE in by_size:
        seconds = by_size[TARGET_SIZE]["seconds"]
        verdict = "met" if seconds <= TARGET_SECONDS else "MISSED"
        print(f"target {TARGET_SIZE:,} results <= {TARGET_SECONDS:g} s: {seconds:.3f} s "
              f"({verdict})")
    per_result = [row["peak"] / row["size"] for row in rows if row["size"] >= 1_000]
    if len(per_result) >= 2:
        spread = max(per_result) / min(per_result)
        print(f"memory linear: bytes/result from 1,000 up varies x{spread:.2f} "
              f"({'met' if spread <= 1.5 else 'MISSED'}, target <= x1.5)")
    puts = {row["puts"] for row in rows}
    print(f"one HTTP push per run: {sorted(puts)} ({'met' if puts == {1} else 'MISSED'})")


def gateway_version() -> str:
    done = subprocess.run(["prometheus-pushgateway", "--version"], capture_output=True,
                          text=True, check=False)
    words = (done.stdout + done.stderr).split()
    return words[2].rstrip(",") if len(words) > 2 else "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reporter_push")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    parser.add_argument("--no-suite", action="store_true",
                        help="skip the real pytest runs (the suite wall-time columns)")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-reporter-") as tmp:
        folder = Path(tmp)
        gateway = start_pushgateway(folder)
        try:
            rows, baselines = [], {}
            for size in sizes:
                rows.append(measure(size, gateway.url, not args.no_suite, folder, baselines))
                print(f"measured {size:,}", file=sys.stderr)
        finally:
            gateway.stop()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load}; Pushgateway {gateway_version()}\n")
    print_table(rows)
    print()
    print_verdicts(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
