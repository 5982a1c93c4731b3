"""Self-tests of monitoring/: Prometheus rules and their promtool tests, Alertmanager config,
Grafana dashboards, the synthetic alert fixtures, the runbook anchors and the GitOps render.

promtool and amtool are real Debian binaries (setup installs them); a test skips, saying so,
only where one is absent.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
MONITORING = ROOT / "monitoring"
RULES_DIR = MONITORING / "prometheus" / "rules"
PROM_TESTS_DIR = MONITORING / "prometheus" / "tests"
PROM_CONFIG = MONITORING / "prometheus" / "prometheus.yml"
AM_CONFIG = MONITORING / "alertmanager" / "alertmanager.yml"
DASHBOARDS_DIR = MONITORING / "grafana" / "dashboards"
FIXTURES_DIR = ROOT / "fixtures" / "alerts"
GUIDE = ROOT / "docs" / "OPERATIONS_GUIDE.md"
RENDER = ROOT / "gitops" / "render.py"

RULE_FILES = ["kyverno.rules.yml", "argocd.rules.yml", "redis.rules.yml", "e2e.rules.yml"]
RUNBOOK_BASE = "https://github.com/mcp-e2e/mcp-e2e/blob/main/docs/OPERATIONS_GUIDE.md#"
CONSOLE_URL = "http://127.0.0.1:8080/api/alertmanager/webhook"
SEVERITIES = {"critical", "warning", "info"}
TEAMS = {"platform", "mcp"}
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
TIMEOUT = 60


# ---- helpers -------------------------------------------------------------------------------
def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package: "
                    f"{'prometheus' if name == 'promtool' else 'prometheus-alertmanager'})")
    return path


def run(argv: list[str], cwd: Path = ROOT) -> str:
    """Run a tool, assert it succeeded, return its stdout (stderr has amtool's warnings)."""
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT,
                          check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(argv)} exited {proc.returncode}:\n{output}"
    return proc.stdout


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def alert_rules() -> list[dict]:
    rules = []
    for name in RULE_FILES:
        for group in load_yaml(RULES_DIR / name)["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rules.append({**rule, "_file": name})
    return rules


ALERT_RULES = alert_rules()
ALERT_NAMES = sorted({r["alert"] for r in ALERT_RULES})


def rule_id(rule: dict) -> str:
    return f"{rule['alert']}[{rule['labels']['severity']}]"


def promtool_cases() -> list[dict]:
    """Every alert_rule_test case of every monitoring/prometheus/tests/*.test.yml."""
    cases = []
    for path in sorted(PROM_TESTS_DIR.glob("*.test.yml")):
        for group in load_yaml(path)["tests"]:
            for case in group.get("alert_rule_test") or []:
                cases.append({**case, "_file": path.name})
    return cases


def github_slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading (without the -1, -2 suffixes of duplicates)."""
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def guide_sections() -> dict[str, list[str]]:
    """'## ' section title -> its '### ' headings."""
    sections: dict[str, list[str]] = {}
    current = None
    in_code = False
    for line in GUIDE.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code:
            continue
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        elif line.startswith("### ") and current is not None:
            sections[current].append(line[4:].strip())
    return sections


def fixtures() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(FIXTURES_DIR.glob("*.json"))}


def dashboards() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS_DIR.glob("*.json"))}


def all_panels(panels: list[dict]) -> list[dict]:
    flat = []
    for panel in panels:
        flat.append(panel)
        flat.extend(all_panels(panel.get("panels") or []))
    return flat


# ---- promtool / amtool ---------------------------------------------------------------------
def test_one_rule_file_per_domain():
    assert sorted(p.name for p in RULES_DIR.glob("*.yml")) == sorted(RULE_FILES)


def test_promtool_check_rules():
    out = run([tool("promtool"), "check", "rules", *(str(RULES_DIR / f) for f in RULE_FILES)])
    assert "FAILED" not in out


def test_promtool_unit_tests():
    files = sorted(p.name for p in PROM_TESTS_DIR.glob("*.test.yml"))
    assert files, "no promtool tests"
    out = run([tool("promtool"), "test", "rules", *files], cwd=PROM_TESTS_DIR)
    assert "FAILED" not in out


def test_promtool_check_config():
    run([tool("promtool"), "check", "config", str(PROM_CONFIG)])


def test_prometheus_scrapes_pushgateway_with_honor_labels():
    config = load_yaml(PROM_CONFIG)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["pushgateway"].get("honor_labels") is True
    assert config["rule_files"] == ["rules/*.rules.yml"]
    assert config["alerting"]["alertmanagers"]


def test_amtool_check_config():
    out = run([tool("amtool"), "check-config", str(AM_CONFIG)])
    assert "SUCCESS" in out


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"severity": "critical", "team": "platform"}, "pager,mcp-console"),
        ({"severity": "critical", "team": "mcp"}, "pager,mcp-console"),
        ({"severity": "critical", "team": "nobody"}, "pager,mcp-console"),
        ({"severity": "warning", "team": "platform"}, "mcp-console"),
        ({"severity": "warning", "team": "mcp"}, "mcp-console"),
        ({"severity": "info", "team": "mcp"}, "mcp-console"),
        ({"severity": "warning"}, "mcp-console"),
        ({"severity": "critical", "team": "mcp", "synthetic": "true"}, "mcp-console"),
    ],
)
def test_alertmanager_routes(labels, receivers):
    args = [f"{k}={v}" for k, v in labels.items()]
    out = run([tool("amtool"), "config", "routes", "test", f"--config.file={AM_CONFIG}", *args])
    assert out.splitlines()[-1].strip() == receivers


def test_every_fixture_routes_to_the_console_only():
    amtool = tool("amtool")
    for name, fixture in fixtures().items():
        args = [f"{k}={v}" for k, v in fixture["labels"].items()]
        out = run([amtool, "config", "routes", "test", f"--config.file={AM_CONFIG}", *args])
        assert out.splitlines()[-1].strip() == "mcp-console", name


def test_alertmanager_config_shape():
    text = AM_CONFIG.read_text()
    config = yaml.safe_load(text)
    receivers = {r["name"]: r for r in config["receivers"]}
    assert {"mcp-console", "pager"} <= set(receivers)
    # the harness and gitops/render.py replace the console URL: one value, in one place
    assert text.count(CONSOLE_URL) == 1
    assert [w["url"] for w in receivers["mcp-console"]["webhook_configs"]] == [CONSOLE_URL]
    for receiver in receivers.values():
        for webhook in receiver.get("webhook_configs", []):
            assert webhook.get("send_resolved") is True, receiver["name"]
    for rule in config["inhibit_rules"]:
        assert set(rule) <= {"source_matchers", "target_matchers", "equal"}, rule
        assert 'synthetic!="true"' in rule["source_matchers"], rule
        assert 'synthetic!="true"' in rule["target_matchers"], rule
    assert any(
        'severity="critical"' in r["source_matchers"]
        and {"alertname", "component"} <= set(r["equal"])
        for r in config["inhibit_rules"]
    ), "criticals must inhibit warnings of the same alertname/component"


# ---- the rules themselves ------------------------------------------------------------------
@pytest.mark.parametrize("rule", ALERT_RULES, ids=rule_id)
def test_alert_has_labels_and_annotations(rule):
    labels, annotations = rule.get("labels", {}), rule.get("annotations", {})
    assert labels.get("severity") in SEVERITIES
    assert labels.get("team") in TEAMS
    assert labels.get("component")
    assert rule.get("for"), "every alert needs a for: duration"
    for key in ("summary", "description", "runbook_url"):
        assert annotations.get(key), f"missing annotation {key}"
    assert "{{" in annotations["description"], "description should template labels or value"
    assert annotations["runbook_url"] == RUNBOOK_BASE + rule["alert"].lower()


def test_alert_names_are_unique_per_severity():
    counts = Counter(rule_id(r) for r in ALERT_RULES)
    assert [k for k, n in counts.items() if n > 1] == []


@pytest.mark.parametrize("rule", ALERT_RULES, ids=rule_id)
def test_alert_has_a_firing_promtool_test(rule):
    """A promtool case expects this rule (this severity) to fire, with exact annotations."""
    firing = [
        exp
        for case in promtool_cases() if case["alertname"] == rule["alert"]
        for exp in case.get("exp_alerts") or []
        if exp.get("exp_labels", {}).get("severity") == rule["labels"]["severity"]
    ]
    assert firing, f"no promtool test expects {rule_id(rule)} to fire"
    for exp in firing:
        assert set(exp.get("exp_annotations", {})) == {"summary", "description", "runbook_url"}
        for key, value in rule["labels"].items():
            assert str(exp["exp_labels"].get(key)) == value


@pytest.mark.parametrize("name", ALERT_NAMES)
def test_alert_has_a_silent_promtool_test(name):
    silent = [c for c in promtool_cases() if c["alertname"] == name and not c.get("exp_alerts")]
    assert silent, f"no promtool test expects {name} to stay silent"


# ---- fixtures ------------------------------------------------------------------------------
def test_one_fixture_per_alert():
    assert sorted(fixtures()) == ALERT_NAMES


@pytest.mark.parametrize("name", ALERT_NAMES)
def test_fixture_matches_its_rule(name):
    path = FIXTURES_DIR / f"{name}.json"
    assert path.is_file(), f"missing {path.relative_to(ROOT)}"
    fixture = json.loads(path.read_text())
    assert set(fixture) == {"alertname", "labels", "annotations"}
    assert fixture["alertname"] == name
    labels, annotations = fixture["labels"], fixture["annotations"]
    assert labels["alertname"] == name
    assert labels["synthetic"] == "true", "fixtures must not page or inhibit (see alertmanager.yml)"
    for key, value in labels.items():
        assert LABEL_NAME.match(key), key
        assert isinstance(value, str), key
        assert value, key
    variants = [r for r in ALERT_RULES if r["alert"] == name]
    assert any(all(labels.get(k) == v for k, v in r["labels"].items()) for r in variants), (
        "fixture labels must include every label its rule sets")
    assert set(annotations) == {"summary", "description", "runbook_url"}
    assert annotations["runbook_url"] == variants[0]["annotations"]["runbook_url"]
    for key, value in annotations.items():
        assert "{{" not in value, f"{key} is not rendered"
        assert "$labels" not in value, f"{key} is not rendered"


# ---- runbook anchors -----------------------------------------------------------------------
def test_guide_has_the_required_sections():
    sections = guide_sections()
    for title in ("Alerting", "WebSocket", "E2E suite", "Alertmanager routing"):
        assert title in sections, f"docs/OPERATIONS_GUIDE.md lacks '## {title}'"


def test_guide_has_exactly_one_entry_per_alert():
    headings = guide_sections()["Alerting"]
    assert sorted(headings) == ALERT_NAMES
    assert len(headings) == len(set(headings))


@pytest.mark.parametrize("rule", ALERT_RULES, ids=rule_id)
def test_runbook_url_points_at_a_guide_heading(rule):
    anchor = rule["annotations"]["runbook_url"].removeprefix(RUNBOOK_BASE)
    slugs = [github_slug(h) for hs in guide_sections().values() for h in hs]
    assert slugs.count(anchor) == 1, f"#{anchor} is not exactly one heading of the guide"


def test_github_slug():
    assert github_slug("KyvernoAdmissionDenialsHigh") == "kyvernoadmissiondenialshigh"
    assert github_slug("Promotion: staging → prod") == "promotion-staging--prod"


# ---- dashboards ----------------------------------------------------------------------------
def test_dashboards_exist():
    assert {"e2e-health.json", "mcp-platform.json"} <= set(dashboards())
    assert dashboards()["e2e-health.json"]["title"] == "MCP E2E health"


@pytest.mark.parametrize("name", sorted(p.name for p in DASHBOARDS_DIR.glob("*.json")))
def test_dashboard_shape(name):
    dash = dashboards()[name]
    assert dash["schemaVersion"] >= 36
    assert dash.get("uid")
    assert dash.get("title")
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    panels = all_panels(dash["panels"])
    assert panels
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    for panel in panels:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel.get("targets"), f"panel {panel['title']!r} has no targets"
        for target in panel["targets"]:
            assert target.get("expr"), f"panel {panel['title']!r} has a target without expr"
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}"


def guide_promql() -> list[tuple[str, str]]:
    """The queries in the guide's ```promql blocks, one per line (trailing # comments cut)."""
    exprs = []
    in_block = False
    for number, line in enumerate(GUIDE.read_text().splitlines(), start=1):
        if line.startswith("```"):
            in_block = line.strip() == "```promql"
            continue
        query = re.sub(r"(^|\s+)#.*$", "", line).strip()
        if in_block and query:
            exprs.append((f"OPERATIONS_GUIDE.md:{number}", query))
    return exprs


def test_dashboard_and_guide_queries_parse(tmp_path):
    """Every dashboard expr (Grafana variables substituted) and every query in the guide's
    promql blocks is valid PromQL for promtool."""
    exprs = []
    for name, dash in dashboards().items():
        for panel in all_panels(dash["panels"]):
            for target in panel.get("targets", []):
                expr = re.sub(r"\$__(rate_)?interval|\$\{__(rate_)?interval\}", "5m",
                              target["expr"])
                expr = re.sub(r"\$\{?\w+\}?", ".*", expr)
                exprs.append((f"{name} / {panel['title']}", expr))
    guide = guide_promql()
    assert len(guide) > 20
    exprs += guide
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"dashboard:expr_{i}:check", "expr": expr} for i, (_, expr) in enumerate(exprs)
    ]}]}
    path = tmp_path / "dashboard-exprs.rules.yml"
    path.write_text(yaml.safe_dump(rules))
    proc = subprocess.run([tool("promtool"), "check", "rules", str(path)], capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)
    listing = "\n".join(f"  expr_{i}: {where}: {expr}" for i, (where, expr) in enumerate(exprs))
    assert proc.returncode == 0, f"{proc.stdout}{proc.stderr}\n{listing}"


# ---- GitOps render ------------------------------------------------------------------------
def test_gitops_render(tmp_path):
    env = {**os.environ, "MCP_CONSOLE_WEBHOOK_URL": "https://mcp.test.example/api/alertmanager/webhook",
           "MCP_PAGER_WEBHOOK_URL": "https://pager.test.example/hook"}
    proc = subprocess.run([sys.executable, str(RENDER), "--env", "test", "--out", str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert proc.returncode == 0, proc.stderr
    rules = list(yaml.safe_load_all((tmp_path / "prometheusrules.yaml").read_text()))
    assert sorted(r["metadata"]["name"] for r in rules) == [
        "mcp-argocd", "mcp-e2e", "mcp-kyverno", "mcp-redis"]
    for cr in rules:
        source = RULES_DIR / cr["metadata"]["annotations"]["mcp-e2e/source"].split("/")[-1]
        assert cr["spec"]["groups"] == load_yaml(source)["groups"]
    maps = list(yaml.safe_load_all((tmp_path / "dashboards.yaml").read_text()))
    assert len(maps) == len(dashboards())
    for cm in maps:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        (key, text), = cm["data"].items()
        assert json.loads(text) == dashboards()[key]
    (secret,) = yaml.safe_load_all((tmp_path / "alertmanager-secret.yaml").read_text())
    am = secret["stringData"]["alertmanager.yaml"]
    assert CONSOLE_URL not in am
    assert "https://mcp.test.example/api/alertmanager/webhook" in am
    kustomization = load_yaml(tmp_path / "kustomization.yaml")
    assert sorted(kustomization["resources"]) == [
        "alertmanager-secret.yaml", "dashboards.yaml", "prometheusrules.yaml"]


def test_gitops_render_refuses_missing_webhook_urls(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_")}
    proc = subprocess.run([sys.executable, str(RENDER), "--env", "test", "--out", str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert proc.returncode != 0
    assert "MCP_CONSOLE_WEBHOOK_URL" in proc.stderr


# ---- a real Alertmanager: fixtures accepted, inhibition as documented ---------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def alertmanager(tmp_path):
    binary = tool("prometheus-alertmanager")
    # Nothing must receive these notifications: point both webhooks at the discard port.
    config = AM_CONFIG.read_text().replace(CONSOLE_URL, "http://127.0.0.1:9/console")
    (tmp_path / "alertmanager.yml").write_text(config)
    port = _free_port()
    proc = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'alertmanager.yml'}",
         f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
         "--cluster.listen-address=", "--log.level=info"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    log: list[str] = []

    def pump() -> None:
        for line in proc.stderr:
            lines.put(line)
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + 15
        while True:  # wait for the log line that says the listener is up
            remaining = deadline - time.monotonic()
            assert remaining > 0, "alertmanager did not start:\n" + "".join(log)
            line = lines.get(timeout=remaining)
            assert line, "alertmanager exited:\n" + "".join(log)
            log.append(line)
            if "Listening on" in line:
                break
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _alert(name: str, severity: str, instance: str, **extra: str) -> dict:
    labels = {"alertname": name, "severity": severity, "team": "mcp", "component": "redis-cache",
              "env": "ci", "instance": instance, **extra}
    return {"labels": labels, "annotations": {"summary": name}}


def test_alertmanager_accepts_fixtures_and_inhibits_as_documented(alertmanager):
    with httpx.Client(base_url=alertmanager, timeout=10) as client:
        posted = [{"labels": f["labels"], "annotations": f["annotations"]}
                  for f in fixtures().values()]
        response = client.post("/api/v2/alerts", json=posted)
        assert response.status_code == 200, response.text

        mem = "RedisMemoryNearMax"
        alerts = [  # sources posted before what they should (not) inhibit
            _alert(mem, "critical", "i2:9121", synthetic="true", case="C"),
            _alert(mem, "warning", "i2:9121", case="D"),
            _alert("RedisDown", "critical", "i3:9121", case="F"),
            _alert("RedisEvictingKeys", "warning", "i3:9121", case="G"),
            _alert(mem, "critical", "i1:9121", case="A"),
            _alert(mem, "warning", "i1:9121", case="B"),
            _alert(mem, "warning", "i1:9121", synthetic="true", case="E"),
        ]
        assert client.post("/api/v2/alerts", json=alerts).status_code == 200

        def states() -> dict[str, str]:
            got = client.get("/api/v2/alerts", params={"filter": "env=ci"}).json()
            return {a["labels"]["case"]: a["status"]["state"] for a in got if "case" in a["labels"]}

        # The inhibitor learns about sources asynchronously: wait for the condition, bounded.
        deadline = time.monotonic() + 10
        current = states()
        while not (current.get("B") == "suppressed" and current.get("G") == "suppressed"):
            assert time.monotonic() < deadline, f"inhibition never applied: {current}"
            current = states()
        assert current == {
            "A": "active",      # critical source
            "B": "suppressed",  # warning of the same alert and instance: inhibited by A
            "C": "active",      # synthetic critical
            "D": "active",      # a synthetic critical never inhibits a real alert
            "E": "active",      # a synthetic warning is never inhibited by a real critical
            "F": "active",      # RedisDown
            "G": "suppressed",  # redis-cache warning on a down instance
        }
