"""The reporter's settings: each a CLI option, an ini key and an environment variable.

Precedence: command line, then environment, then ini file, then the default. The resolved
values are written back to `config.option.<dest>` during `pytest_configure` (tryfirst), so
other plugins read one place.

The Pushgateway URL is read once more, lazily, at session end from
`config.option.pushgateway_url`: a plugin that starts its own Pushgateway (the harness) may
set `config.option.pushgateway_url` in its `pytest_configure` or `pytest_sessionstart`.

Secrets (credentials, tokens) are not settings: they come from the environment only, see
`reporting.push.GatewayAuth`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

DEFAULT_JOB = "mcp_e2e"
DEFAULT_ENV = "local"
DEFAULT_SUITE = "e2e"
DEFAULT_METRICS_FILE = "reports/e2e-metrics.prom"
DEFAULT_PUSH_TIMEOUT = 3.0
DEFAULT_PUSH_RETRIES = 2
DEFAULT_MAX_TESTS = 5000
MAX_PUSH_RETRIES = 10
SECRET_ENV_VARS = ("E2E_PUSHGATEWAY_PASSWORD", "E2E_PUSHGATEWAY_TOKEN")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class _Setting:
    dest: str
    cli: str
    env: str
    ini: str
    help: str
    flag: bool = False


_SETTINGS: tuple[_Setting, ...] = (
    _Setting("pushgateway_url", "--pushgateway-url", "E2E_PUSHGATEWAY_URL", "pushgateway_url",
             "Pushgateway base URL (http/https) to push the run's metrics to; none: no push."),
    _Setting("metrics_job", "--metrics-job", "E2E_METRICS_JOB", "metrics_job",
             f"job label of the pushed group (default {DEFAULT_JOB})."),
    _Setting("metrics_env", "--metrics-env", "E2E_METRICS_ENV", "metrics_env",
             f"env label of the pushed group (default {DEFAULT_ENV})."),
    _Setting("metrics_suite", "--metrics-suite", "E2E_METRICS_SUITE", "metrics_suite",
             f"suite label of the pushed group (default {DEFAULT_SUITE})."),
    _Setting("metrics_shard", "--metrics-shard", "E2E_METRICS_SHARD", "metrics_shard",
             "shard label of the pushed group, for runs split across machines (default none)."),
    _Setting("metrics_file", "--metrics-file", "E2E_METRICS_FILE", "metrics_file",
             f"where the exposition is written (default {DEFAULT_METRICS_FILE} under rootdir)."),
    _Setting("no_metrics_push", "--no-metrics-push", "E2E_NO_METRICS_PUSH", "no_metrics_push",
             "write the metrics file but do not push.", flag=True),
    _Setting("metrics_push_timeout", "--metrics-push-timeout", "E2E_METRICS_PUSH_TIMEOUT",
             "metrics_push_timeout",
             "seconds to wait for the Pushgateway per attempt "
             f"(default {DEFAULT_PUSH_TIMEOUT:g})."),
    _Setting("metrics_push_retries", "--metrics-push-retries", "E2E_METRICS_PUSH_RETRIES",
             "metrics_push_retries",
             f"retries after a failed push (default {DEFAULT_PUSH_RETRIES}; backoff from 0.25 s)."),
    _Setting("metrics_max_tests", "--metrics-max-tests", "E2E_METRICS_MAX_TESTS",
             "metrics_max_tests",
             f"at most this many tests get per-test series; beyond it passed tests are dropped "
             f"first (default {DEFAULT_MAX_TESTS}; 0: no limit)."),
    _Setting("no_metrics", "--no-metrics", "E2E_NO_METRICS", "no_metrics",
             "disable the metrics reporter entirely (no file, no push).", flag=True),
)
_BY_DEST = {setting.dest: setting for setting in _SETTINGS}


@dataclass(frozen=True)
class ReportingSettings:
    """The resolved settings (the Pushgateway URL is re-read at session end)."""

    enabled: bool
    pushgateway_url: str | None
    job: str
    env: str
    suite: str
    shard: str | None
    metrics_file: Path
    push_enabled: bool
    push_timeout: float
    push_retries: int
    max_tests: int = DEFAULT_MAX_TESTS

    def grouping_key(self) -> dict[str, str]:
        """Labels (besides `job`) that name this run's group on the Pushgateway."""
        key = {"env": self.env, "suite": self.suite}
        if self.shard:
            key["shard"] = self.shard
        return key

    def describe_group(self) -> str:
        """`job=... env=... suite=...` for humans."""
        parts = {"job": self.job, **self.grouping_key()}
        return " ".join(f"{name}={value}" for name, value in parts.items())


def add_options(parser: pytest.Parser) -> None:
    """Register the CLI options and ini keys (all defaults None: precedence is resolved later)."""
    group = parser.getgroup("e2e-metrics", "e2e run metrics (Prometheus Pushgateway)")
    for setting in _SETTINGS:
        help_text = f"{setting.help} [env {setting.env}, ini {setting.ini}]"
        if setting.flag:
            group.addoption(setting.cli, action="store_true", dest=setting.dest, default=None,
                            help=help_text)
        else:
            group.addoption(setting.cli, action="store", dest=setting.dest, default=None,
                            metavar=setting.dest.upper(), help=help_text)
        parser.addini(setting.ini, f"{setting.help} (CLI {setting.cli} and env {setting.env} "
                      "take precedence)", type="string", default="")


def resolve_settings(
    config: pytest.Config, environ: Mapping[str, str] | None = None
) -> ReportingSettings:
    """Resolve every setting (CLI > env > ini > default); bad values raise pytest.UsageError."""
    environ = os.environ if environ is None else environ

    def raw(dest: str) -> tuple[Any, str] | None:
        return _raw_value(config, environ, _BY_DEST[dest])

    def text(dest: str, default: str | None) -> str | None:
        found = raw(dest)
        if found is None:
            return default
        value = str(found[0]).strip()
        return value or default

    def parsed(dest: str, default: Any, parse: Callable[[str, str], Any]) -> Any:
        found = raw(dest)
        if found is None:
            return default
        value, source = found
        if isinstance(value, bool):
            return value
        return parse(str(value).strip(), source)

    url = text("pushgateway_url", None)
    if url is not None:
        url = validate_pushgateway_url(url, _source_of(raw("pushgateway_url")))
    for dest in ("metrics_job", "metrics_env", "metrics_suite", "metrics_shard"):
        value = text(dest, None)
        if value is not None and not value.isprintable():
            raise pytest.UsageError(f"{_BY_DEST[dest].cli}: {value!r} is not printable text")
    return ReportingSettings(
        enabled=not parsed("no_metrics", False, _parse_bool),
        pushgateway_url=url,
        job=text("metrics_job", DEFAULT_JOB) or DEFAULT_JOB,
        env=text("metrics_env", DEFAULT_ENV) or DEFAULT_ENV,
        suite=text("metrics_suite", DEFAULT_SUITE) or DEFAULT_SUITE,
        shard=text("metrics_shard", None),
        metrics_file=_metrics_file(config, raw("metrics_file")),
        push_enabled=not parsed("no_metrics_push", False, _parse_bool),
        push_timeout=parsed("metrics_push_timeout", DEFAULT_PUSH_TIMEOUT, _parse_timeout),
        push_retries=parsed("metrics_push_retries", DEFAULT_PUSH_RETRIES, _parse_retries),
        max_tests=parsed("metrics_max_tests", DEFAULT_MAX_TESTS, _parse_max_tests),
    )


def store_settings(config: pytest.Config, settings: ReportingSettings) -> None:
    """Write the resolved values back to `config.option`, the one place other plugins read."""
    option = config.option
    option.pushgateway_url = settings.pushgateway_url
    option.metrics_job = settings.job
    option.metrics_env = settings.env
    option.metrics_suite = settings.suite
    option.metrics_shard = settings.shard
    option.metrics_file = str(settings.metrics_file)
    option.no_metrics_push = not settings.push_enabled
    option.metrics_push_timeout = settings.push_timeout
    option.metrics_push_retries = settings.push_retries
    option.metrics_max_tests = settings.max_tests
    option.no_metrics = not settings.enabled


def validate_pushgateway_url(url: str, source: str = "--pushgateway-url") -> str:
    """The URL without a trailing slash, or pytest.UsageError naming where it came from."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise pytest.UsageError(
            f"{source}: {mask_url(url)!r} is not a Pushgateway URL; "
            "expected http://host:port or https://host[:port]"
        )
    return url.rstrip("/")


def mask_url(url: str) -> str:
    """The URL with any user:password@ part replaced by ***@ (safe to print)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"***@{host}").geturl()


def redact_secrets(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` with the Pushgateway password/token from the environment replaced by ***."""
    environ = os.environ if environ is None else environ
    for name in SECRET_ENV_VARS:
        secret = environ.get(name, "")
        if len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


def _raw_value(
    config: pytest.Config, environ: Mapping[str, str], setting: _Setting
) -> tuple[Any, str] | None:
    """(value, where it came from) of the highest-precedence source that sets it, else None."""
    cli = getattr(config.option, setting.dest, None)
    if cli is not None:
        return cli, setting.cli
    env = environ.get(setting.env)
    if env is not None and env.strip():
        return env, setting.env
    try:
        ini = config.getini(setting.ini)
    except ValueError:  # the ini key was not registered (plugin loaded oddly)
        ini = ""
    if ini is not None and str(ini).strip():
        return ini, f"ini {setting.ini}"
    return None


def _source_of(found: tuple[Any, str] | None) -> str:
    return found[1] if found else "--pushgateway-url"


def _metrics_file(config: pytest.Config, found: tuple[Any, str] | None) -> Path:
    if found is None:
        return Path(config.rootpath) / DEFAULT_METRICS_FILE
    value, source = found
    path = Path(str(value).strip()).expanduser()
    if path.is_absolute():
        return path
    if source.startswith("ini "):
        base = Path(config.inipath).parent if config.inipath else Path(config.rootpath)
    else:  # CLI and environment: relative to where pytest was started
        base = Path(config.invocation_params.dir)
    return base / path


def _parse_bool(value: str, source: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise pytest.UsageError(f"{source}: {value!r} is not a boolean (use 1/0, true/false)")


def _parse_timeout(value: str, source: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise pytest.UsageError(
            f"{source}: {value!r} is not a number of seconds (e.g. 3 or 0.5)"
        ) from None
    if not (0 < seconds <= 300):
        raise pytest.UsageError(f"{source}: {value!r} must be more than 0 and at most 300 seconds")
    return seconds


def _parse_retries(value: str, source: str) -> int:
    try:
        retries = int(value)
    except ValueError:
        raise pytest.UsageError(f"{source}: {value!r} is not a whole number of retries") from None
    if not (0 <= retries <= MAX_PUSH_RETRIES):
        raise pytest.UsageError(f"{source}: {value!r} must be between 0 and {MAX_PUSH_RETRIES}")
    return retries


def _parse_max_tests(value: str, source: str) -> int:
    try:
        limit = int(value)
    except ValueError:
        raise pytest.UsageError(f"{source}: {value!r} is not a whole number of tests") from None
    if limit < 0:
        raise pytest.UsageError(f"{source}: {value!r} must be 0 (no limit) or more")
    return limit
