"""pytest plugin: the run as Prometheus metrics, written to a file and pushed to a Pushgateway.

Loaded in every pytest run of this environment (entry point `mcp_e2e_reporting`), so it is
cheap when unused: at import it loads only option handling; the collecting object is registered
only in the process that sees every report (the xdist controller or the single process), and
prometheus_client is imported only at session end.

Settings: see `reporting.options`. Another plugin that starts its own Pushgateway sets
`config.option.pushgateway_url` in `pytest_configure` or `pytest_sessionstart`; the URL is read
at session end.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reporting.collector import ResultCollector
from reporting.options import (
    ReportingSettings,
    add_options,
    mask_url,
    redact_secrets,
    resolve_settings,
    store_settings,
    validate_pushgateway_url,
)

PLUGIN_NAME = "mcp_e2e_reporting_run"
PREFIX = "e2e metrics:"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # xdist worker: the controller reports
        return
    settings = resolve_settings(config)
    store_settings(config, settings)
    if settings.enabled:
        config.pluginmanager.register(RunReporter(config, settings), PLUGIN_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    reporter = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if isinstance(reporter, RunReporter):
        reporter.flush_unprinted()
        config.pluginmanager.unregister(reporter, PLUGIN_NAME)


@dataclass
class Outcome:
    """What happened to the metrics at session end, for the summary line."""

    series: int = 0
    file: Path | None = None
    file_error: str = ""
    pushed_to: str = ""
    push_note: str = ""
    push_failed: bool = False
    skipped_reason: str = ""


class RunReporter:
    """Collects reports, then builds, writes and pushes the metrics once at session end."""

    def __init__(self, config: pytest.Config, settings: ReportingSettings) -> None:
        self.config = config
        self.settings = settings
        self.collector = ResultCollector()
        self.started = time.time()
        self.tests_ran = False
        self.outcome: Outcome | None = None
        self.warnings: list[str] = []
        self._printed = False

    # -- collecting -------------------------------------------------------------------------

    def pytest_sessionstart(self) -> None:
        self.started = time.time()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self) -> None:
        # Reached by real runs only: not --collect-only (checked here), --fixtures, --markers.
        self.tests_ran = not self.config.option.collectonly

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        status = self.config.hook.pytest_report_teststatus(report=report, config=self.config)
        category = status[0] if status else report.outcome
        self.collector.add_test_report(report, category)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self.collector.add_collect_report(report)

    # -- publishing -------------------------------------------------------------------------

    def pytest_report_header(self) -> str:
        return f"{PREFIX} {self._destination_text(self._pushgateway_url())}"

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.tests_ran:  # --collect-only, --fixtures, --markers: nothing to report
            return
        if self.collector.reports_seen == 0:
            self.outcome = Outcome(skipped_reason="no tests ran; nothing written or pushed")
            return
        try:
            self.outcome = self._publish(int(exitstatus))
        except Exception as exc:  # the reporter must never change the run's result
            self.outcome = Outcome(skipped_reason="not published (internal error, see above)")
            self.warnings.append(redact_secrets(
                f"{PREFIX} internal error, metrics not published: {type(exc).__name__}: {exc}"
            ))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(
        self, terminalreporter: pytest.TerminalReporter
    ) -> Generator[None]:
        # Outermost wrapper: the lines come after every other section (and after the
        # "short test summary info"), right before pytest's final "=== N passed ===" line.
        try:
            return (yield)
        finally:
            lines = self._summary_lines()
            if lines:
                for line in lines[:-1]:
                    terminalreporter.write_line(line, yellow=True, bold=True)
                outcome = self.outcome
                failed = bool(outcome and (outcome.push_failed or outcome.file_error))
                terminalreporter.write_line(lines[-1], red=failed)
            self._printed = True

    def flush_unprinted(self) -> None:
        """Without a terminal summary (-p no:terminal, internal error) print to stderr."""
        if self._printed:
            return
        self._printed = True
        for line in self._summary_lines():
            sys.stderr.write(line + "\n")

    # -- helpers ----------------------------------------------------------------------------

    def _publish(self, exitstatus: int) -> Outcome:
        from reporting.metrics import build_registry, count_series, exposition
        from reporting.push import (
            Deadline,
            GatewayAuth,
            PushTarget,
            push_registry,
            read_last_success,
        )
        from reporting.run_info import RunFacts, git_revision, package_version, target_label

        results = self.collector.results()
        if results.ignored_observations:
            self.warnings.append(_ignored_warning(results.ignored_observations))
        url = self._pushgateway_url()
        settings = self.settings
        target = None
        if url and settings.push_enabled:
            target = PushTarget(url=url, job=settings.job, grouping_key=settings.grouping_key(),
                                timeout=settings.push_timeout, retries=settings.push_retries)
        auth = GatewayAuth.from_env(url=url or "")
        deadline = Deadline(target.budget) if target else None
        finished = round(time.time(), 3)
        if exitstatus == 0:
            last_success = finished
        elif target is not None:
            last_success = read_last_success(target, auth, deadline)
        else:
            last_success = None
        git_sha, branch = git_revision(Path(self.config.rootpath))
        run = RunFacts(
            exit_status=exitstatus, started=self.started, finished=finished,
            version=package_version(), git_sha=git_sha, branch=branch,
            target=target_label(self.config.option), last_success=last_success,
        )
        registry = build_registry(results, run)
        outcome = Outcome(series=count_series(registry), file=settings.metrics_file)
        try:
            settings.metrics_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = settings.metrics_file.with_name(settings.metrics_file.name + ".tmp")
            tmp.write_bytes(exposition(registry))
            os.replace(tmp, settings.metrics_file)
        except OSError as exc:
            outcome.file_error = f"{exc.strerror or exc}"
            self.warnings.append(f"{PREFIX} cannot write {settings.metrics_file}: {exc}")
        if target is None:
            outcome.push_note = self._no_push_reason(url)
            return outcome
        result = push_registry(registry, target, auth, deadline)
        if result.ok:
            outcome.pushed_to = f"{target.shown_url} ({target.describe_group()})"
        else:
            outcome.push_failed = True
            self.warnings.append(result.warning(target))
        return outcome

    def _pushgateway_url(self) -> str | None:
        url = getattr(self.config.option, "pushgateway_url", None)
        if not url:
            return None
        try:
            return validate_pushgateway_url(str(url), "config.option.pushgateway_url")
        except pytest.UsageError as exc:
            warning = f"{PREFIX} not pushing: {exc}"
            if warning not in self.warnings:
                self.warnings.append(warning)
            return None

    def _no_push_reason(self, url: str | None) -> str:
        if not self.settings.push_enabled:
            return "push disabled"
        return "no --pushgateway-url" if not url else "not pushed"

    def _destination_text(self, url: str | None) -> str:
        shown = self._shown_file()
        group = f"({self.settings.describe_group()})"
        if url and self.settings.push_enabled:
            return f"writing {shown}; pushing to {mask_url(url)} {group}"
        return f"writing {shown}; {self._no_push_reason(url)} {group}"

    def _shown_file(self) -> str:
        path = self.settings.metrics_file
        for base in (Path(self.config.invocation_params.dir), Path(self.config.rootpath)):
            try:
                return str(path.relative_to(base))
            except ValueError:
                continue
        return str(path)

    def _summary_lines(self) -> list[str]:
        outcome = self.outcome
        if outcome is None:
            return list(self.warnings)
        if outcome.skipped_reason:
            return [*self.warnings, f"{PREFIX} {outcome.skipped_reason}"]
        if outcome.file_error:
            where = f"{self._shown_file()} NOT WRITTEN ({outcome.file_error})"
        else:
            where = self._shown_file()
        if outcome.pushed_to:
            push = f"pushed to {outcome.pushed_to}"
        elif outcome.push_failed:
            push = "push FAILED (see warning above)"
        else:
            push = outcome.push_note
        return [*self.warnings, f"{PREFIX} {outcome.series} series → {where}; {push}"]


def _ignored_warning(ignored: dict[str, int]) -> str:
    total = sum(ignored.values())
    names = ", ".join(sorted(ignored))
    return (f"{PREFIX} ignored {total} observation{'s' if total != 1 else ''} "
            f"for unknown or malformed metrics: {names}")
