"""Wall time a misbehaving Pushgateway adds to a run, with the default settings.

    .venv/bin/python -m bench.reporter_faults

Publishes a small run (`publish`, as the plugin does at session end) with the default timeout
and retries (3 s x 3 attempts) against: a healthy real gateway (the baseline), nothing listening,
a server that closes every connection, one that answers 500, 400, 401, one that answers within
the timeout but slowly, one that accepts and never answers, and one that trickles its answer
byte by byte (no single read times out). Prints the added time per fault next to the bound the
reporter guarantees (`PushTarget.worst_case_seconds`, under 10 s); exit 1 if any exceeds it.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from harness.ports import free_port
from harness.services import start_pushgateway
from reporting.collector import ResultCollector
from reporting.metrics import build_families
from reporting.push import PushTarget, publish
from reporting.run_info import RunFacts
from tests.reporting_samples.fake_gateways import FaultyGateway, HangingGateway, Reply

FAULTS: dict[str, dict[str, Reply] | str] = {
    "healthy gateway (baseline)": "real",
    "down (nothing listening)": "down",
    "refusing (closes the connection)": {"get": Reply(close=True)},
    "500 on every push": {"put": Reply(500, "boom")},
    "400 (bad push)": {"put": Reply(400, "text format parsing error")},
    "401 (bad credentials)": {"get": Reply(401, "Unauthorized")},
    "slow: answers after 2 s": {"put": Reply(200, delay=2.0)},
    "hanging (never answers)": "hanging",
    "trickling its answer forever": {"put": Reply(trickle=True)},
}


@contextlib.contextmanager
def gateway_url(kind: dict[str, Reply] | str, folder: Path) -> Iterator[str]:
    if kind == "real":
        service = start_pushgateway(folder)
        try:
            yield service.url
        finally:
            service.stop()
    elif kind == "down":
        yield f"http://127.0.0.1:{free_port()}"
    elif kind == "hanging":
        with HangingGateway() as hanging:
            yield hanging.url
    else:
        assert isinstance(kind, dict)
        with FaultyGateway(**kind) as faulty:
            yield faulty.url


def main() -> int:
    collector = ResultCollector()
    run = RunFacts(exit_status=1, started=0.0, finished=time.time(), version="0", git_sha="0",
                   branch="main", target="embedded", last_success=None)
    families = build_families(collector.results(), run)
    bound = PushTarget(url="http://x", job="j", grouping_key={}).worst_case_seconds
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        for name, kind in FAULTS.items():
            with gateway_url(kind, Path(tmp)) as url:
                target = PushTarget(url=url, job="bench_faults", grouping_key={"env": "bench"})
                started = time.perf_counter()
                result, _body = publish(families, target)
                elapsed = time.perf_counter() - started
            rows.append((name, elapsed, result.attempts, result.detail if not result.ok else "ok"))
            print(f"measured {name}", file=sys.stderr)
    print(f"defaults: timeout {target.timeout:g} s x {target.attempts} attempts; "
          f"guaranteed bound {bound:g} s\n")
    print("| gateway | added wall time | attempts | within bound | what the warning says |")
    print("|---|---|---|---|---|")
    for name, elapsed, attempts, detail in rows:
        ok = "yes" if elapsed <= bound else "NO"
        print(f"| {name} | {elapsed:.2f} s | {attempts} | {ok} | {detail[:70]} |")
    return 0 if all(elapsed <= bound for _, elapsed, _, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
