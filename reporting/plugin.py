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

import contextlib
import os
import sys
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reporting.auth import GatewayAuth, GatewaySettingsError
from reporting.cardinality import KeptTests
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
from reporting.spool import spool_path, with_group_header, write_atomically

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
        try:
            GatewayAuth.from_env().check()
        except GatewaySettingsError as exc:
            raise pytest.UsageError(str(exc)) from None
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
        self._last_status: tuple[object, object] | None = None

    # -- collecting -------------------------------------------------------------------------

    def pytest_sessionstart(self) -> None:
        self.started = time.time()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self) -> None:
        # Reached by real runs only: not --collect-only (checked here), --fixtures, --markers.
        self.tests_ran = not self.config.option.collectonly

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(self, report: pytest.TestReport) -> Generator[None]:
        # Remember the terminal's answer for this report, so as not to ask the hook again.
        status = yield
        self._last_status = (report, status)
        return status

    @pytest.hookimpl(trylast=True)  # after the terminal reporter asked for the category
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        last = self._last_status
        if last is not None and last[0] is report:
            status = last[1]
        else:  # no terminal reporter (-p no:terminal), or another report since
            status = self.config.hook.pytest_report_teststatus(report=report, config=self.config)
        self._last_status = None
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
            auth = GatewayAuth.from_env(url=self._pushgateway_url() or "")
            self.warnings.append(auth.redact(redact_secrets(
                f"{PREFIX} internal error, metrics not published: {type(exc).__name__}: {exc}"
            )))

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
        from reporting.cardinality import select_tests
        from reporting.metrics import build_families, render
        from reporting.push import PushTarget, publish
        from reporting.run_info import RunFacts, git_revision, package_version, target_label

        settings = self.settings
        results = self.collector.results()
        if results.ignored_observations:
            self.warnings.append(_ignored_warning(results.ignored_observations))
        kept = select_tests(results.tests, settings.max_tests)
        if kept.dropped:
            self.warnings.append(_dropped_warning(len(kept.kept) + kept.dropped, kept))
        url = self._pushgateway_url()
        auth = GatewayAuth.from_env(url=url or "")
        finished = round(time.time(), 3)
        git_sha, branch = git_revision(Path(self.config.rootpath))
        run = RunFacts(
            exit_status=exitstatus, started=self.started, finished=finished,
            version=package_version(), git_sha=git_sha, branch=branch,
            target=target_label(self.config.option),
            last_success=finished if exitstatus == 0 else None,
        )
        families = build_families(results, run, kept, secrets=auth.secrets)
        outcome = Outcome(file=settings.metrics_file)
        labels = {"job": settings.job, **settings.grouping_key()}
        if not (url and settings.push_enabled):
            body = render(families)
            outcome.series = _series_in(body)
            self._write(outcome, with_group_header(body, labels))
            outcome.push_note = self._no_push_reason(url)
            return outcome
        target = PushTarget(url=url, job=settings.job, grouping_key=settings.grouping_key(),
                            timeout=settings.push_timeout, retries=settings.push_retries)
        result, body = publish(families, target, auth)
        outcome.series = _series_in(body)
        data = with_group_header(body, labels)
        self._write(outcome, data)
        spooled = spool_path(settings.metrics_file, labels, target.shown_url)
        if result.ok:
            outcome.pushed_to = f"{target.shown_url} ({target.describe_group()})"
            with contextlib.suppress(OSError):
                spooled.unlink(missing_ok=True)  # superseded by what was just pushed
            return outcome
        outcome.push_failed = True
        self.warnings.append(result.warning(target))
        try:
            write_atomically(spooled, data)
        except OSError as exc:
            self.warnings.append(f"{PREFIX} cannot spool to {spooled}: {exc}")
        else:
            shown = self._shown(spooled)
            self.warnings.append(
                f"{PREFIX} spooled to {shown}; re-send with: {_python()} -m reporting push "
                f"{shown} --pushgateway-url {target.shown_url}"
            )
        return outcome

    def _write(self, outcome: Outcome, data: bytes) -> None:
        try:
            write_atomically(self.settings.metrics_file, data)
        except OSError as exc:
            outcome.file_error = f"{exc.strerror or exc}"
            self.warnings.append(f"{PREFIX} cannot write {self.settings.metrics_file}: {exc}")

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
        return self._shown(self.settings.metrics_file)

    def _shown(self, path: Path) -> str:
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


def _series_in(body: bytes) -> int:
    """Samples (lines with a value) in an exposition."""
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


def _dropped_warning(ran: int, kept: KeptTests) -> str:
    failing = f", {kept.dropped_failing} failing" if kept.dropped_failing else ""
    return (f"{PREFIX} {ran} tests ran, more than --metrics-max-tests {kept.limit}: per-test "
            f"series dropped for {kept.dropped} tests ({kept.dropped_passing} passed{failing}); "
            f"e2e_tests_dropped={kept.dropped}")


def _python() -> str:
    """This interpreter, as the user would type it (the venv's, relative when under cwd)."""
    relative = os.path.relpath(sys.executable)
    return sys.executable if relative.startswith("..") else relative
