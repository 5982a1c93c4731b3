"""`python -m reporting prune`: deletes this job's groups last pushed longer ago than a limit,
odd label values included, and nothing else. `--now` simulates the future instead of waiting."""

from __future__ import annotations

import httpx
import pytest

from reporting.__main__ import main as reporting_main
from reporting.grouping import group_path
from tests.reporting_samples.support import gateway_data, running_gateway

JOB = "prune_me"
OLD = {"job": JOB, "env": "a", "suite": "e2e"}
NEWER = {"job": JOB, "env": "b", "suite": "e2e"}
ODD = {"job": JOB, "env": 'eu/west "q" \\ ü', "suite": ".."}
OTHER_JOB = {"job": "keep_me", "env": "a", "suite": "e2e"}
WEEK = 7 * 86400


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    yield from running_gateway(tmp_path_factory)


def _push(url: str, labels: dict[str, str]) -> None:
    rest = {name: val for name, val in labels.items() if name != "job"}
    httpx.put(url + group_path(labels["job"], rest), content="e2e_run_success 1\n",
              timeout=5).raise_for_status()


def _groups(url: str) -> list[dict[str, str]]:
    return [group["labels"] for group in gateway_data(url)]


def _push_time(url: str, labels: dict[str, str]) -> float:
    for group in gateway_data(url):
        if group["labels"] == labels:
            return float(group["push_time_seconds"]["metrics"][0]["value"])
    raise AssertionError(f"no group {labels}")


def test_prune_deletes_only_this_jobs_stale_groups(gateway, capsys):
    for labels in (OTHER_JOB, OLD, NEWER, ODD):  # pushed in this order: OLD before NEWER
        _push(gateway.url, labels)
    old, newer = _push_time(gateway.url, OLD), _push_time(gateway.url, NEWER)
    assert old < newer
    a_week_after_old = old + WEEK + (newer - old) / 2  # OLD is a week old, NEWER not quite
    base = ["prune", "--pushgateway-url", gateway.url, "--job", JOB]

    dry = reporting_main([*base, "--older-than", "7d", "--now", str(a_week_after_old),
                          "--dry-run"])
    dry_out = capsys.readouterr().out.splitlines()
    assert dry == 0
    assert dry_out[0].startswith(f"would delete job={JOB} env=a suite=e2e (last push ")
    assert dry_out[-1] == (f"prune: would delete 1 of 3 groups of job={JOB} on {gateway.url} "
                           "older than 7d")
    assert len(_groups(gateway.url)) == 4

    pruned = reporting_main([*base, "--older-than", "7d", "--now", str(a_week_after_old)])
    assert pruned == 0
    assert capsys.readouterr().out.splitlines()[0].startswith(f"deleted job={JOB} env=a ")
    assert _sorted(_groups(gateway.url)) == _sorted([OTHER_JOB, NEWER, ODD])

    everything = reporting_main([*base, "--older-than", "0s"])
    out = capsys.readouterr().out
    assert everything == 0
    assert f"deleted job={JOB} env={ODD['env']} suite=.. (last push" in out
    assert _groups(gateway.url) == [OTHER_JOB]  # other jobs are never touched


def _sorted(groups: list[dict[str, str]]) -> list[list[tuple[str, str]]]:
    return sorted(sorted(group.items()) for group in groups)


def test_prune_rejects_a_bad_age(gateway, capsys):
    status = reporting_main(["prune", "--pushgateway-url", gateway.url, "--older-than", "soon"])
    assert status == 2
    assert "--older-than: 'soon' is not an age like 90s, 15m, 12h, 7d or 2w" in (
        capsys.readouterr().err)
