"""The Alertmanager config the harness renders for a test run: valid for amtool, every webhook
pointed at the console, timings shortened, routing and inhibition unchanged."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.alertmanager_config import (
    SOURCE,
    TEST_TIMINGS,
    ConfigRenderError,
    render_config,
    webhook_url,
    write_config,
)

CONSOLE = "http://127.0.0.1:41234"
FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"
TIMING_KEYS = set(TEST_TIMINGS)


def amtool(*args: str) -> str:
    path = shutil.which("amtool")
    if path is None:
        pytest.skip("amtool not installed (prometheus-alertmanager); run `make setup`")
    proc = subprocess.run([path, *args], capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    return write_config(tmp_path / "alertmanager.yml", CONSOLE + "/")


def without_timings(route: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in route.items() if k not in TIMING_KEYS and k != "routes"}
    out["routes"] = [without_timings(r) for r in route.get("routes") or []]
    return out


def test_amtool_accepts_the_rendered_config(rendered):
    out = amtool("check-config", str(rendered))
    assert "SUCCESS" in out


def test_every_webhook_goes_to_the_console(rendered):
    config = yaml.safe_load(rendered.read_text())
    urls = [h["url"] for r in config["receivers"] for h in r.get("webhook_configs", [])]
    assert urls
    assert set(urls) == {f"{CONSOLE}/api/alertmanager/webhook"} == {webhook_url(CONSOLE)}
    assert "127.0.0.1:8080" not in rendered.read_text()
    assert rendered.read_text().startswith("# Rendered by harness/alertmanager_config.py")


def hooks(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [h for r in config["receivers"] for h in r.get("webhook_configs") or []]


def test_every_webhook_sends_the_runs_token_and_no_other_credentials(tmp_path):
    source = yaml.safe_load(SOURCE.read_text())
    assert any("http_config" in h for h in hooks(source))  # the deployment's own token file
    token_file = tmp_path / "webhook-token"
    path = write_config(tmp_path / "am.yml", CONSOLE, token_file=token_file)
    config = yaml.safe_load(path.read_text())
    assert [h["http_config"] for h in hooks(config)] == [
        {"authorization": {"type": "Bearer", "credentials_file": str(token_file)}}
    ] * len(hooks(source))
    token_file.write_text("t0k3n\n")
    assert "SUCCESS" in amtool("check-config", str(path))
    # Without a token file, nothing: the source's credentials file does not exist here.
    assert not any("http_config" in h for h in hooks(render_config(source, CONSOLE)))


def test_timings_are_short_and_the_routing_unchanged(rendered):
    source = yaml.safe_load(SOURCE.read_text())
    config = yaml.safe_load(rendered.read_text())
    root = config["route"]
    for key, value in TEST_TIMINGS.items():
        assert root[key] == value

    def child_timings(route: dict[str, Any]) -> list[str]:
        found = [route[k] for k in TIMING_KEYS if k in route]
        return found + [t for r in route.get("routes") or [] for t in child_timings(r)]

    assert set(child_timings(root)) <= set(TEST_TIMINGS.values())
    assert without_timings(config["route"]) == without_timings(source["route"])
    assert config["inhibit_rules"] == source["inhibit_rules"]
    assert [r["name"] for r in config["receivers"]] == [r["name"] for r in source["receivers"]]
    assert config["global"] == source["global"]


def test_fixtures_route_to_the_console_in_the_rendered_config(rendered):
    for path in sorted(FIXTURES_DIR.glob("*.json")):
        labels = json.loads(path.read_text())["labels"]
        args = [f"{k}={v}" for k, v in labels.items()]
        out = amtool("config", "routes", "test", f"--config.file={rendered}", *args)
        assert out.splitlines()[-1].strip() == "mcp-console", path.name


def test_render_refuses_what_it_cannot_redirect():
    source = yaml.safe_load(SOURCE.read_text())
    with pytest.raises(ConfigRenderError, match="only webhook receivers"):
        render_config(
            {**source, "receivers": [*source["receivers"], {"name": "mail", "email_configs": []}]},
            CONSOLE,
        )
    with pytest.raises(ConfigRenderError, match="mcp-console"):
        render_config(
            {**source, "receivers": [r for r in source["receivers"] if r["name"] != "mcp-console"]},
            CONSOLE,
        )
    with pytest.raises(ConfigRenderError, match="unknown timing"):
        render_config(source, CONSOLE, {"group_wiat": "1s"})
    # The source is never modified in place.
    assert source == yaml.safe_load(SOURCE.read_text())
