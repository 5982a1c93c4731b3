"""The GitHub workflows: valid YAML, and every make target, file and marker they name exists
(GitHub only says so when a run starts, at night)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*):", makefile, re.MULTILINE))


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_parses_and_names_only_what_exists(path: Path):
    workflow = yaml.safe_load(path.read_text())
    assert isinstance(workflow, dict), path
    assert True in workflow or "on" in workflow  # YAML 1.1 reads the `on:` key as True
    runs = "\n".join(step.get("run", "") for step in steps(workflow))
    for target in re.findall(r"(?:^|&&|;)\s*make (\w[\w-]*)", runs, re.MULTILINE):
        assert target in make_targets(), f"{path.name}: make {target}"
    for name in re.findall(r"(?<![\w/.])((?:\.ci|gitops|tests|scripts)/[\w./-]+)", runs):
        assert (ROOT / name).exists(), f"{path.name}: {name}"
    for step in steps(workflow):
        if step.get("uses", "").startswith("actions/upload-artifact"):
            assert "retention-days" in step["with"], f"{path.name}: {step.get('name')}"


def test_nightly_shards_select_registered_markers():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "nightly.yml").read_text())
    markers = {
        line.split(":")[0]
        for line in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"][
            "ini_options"
        ]["markers"]
    }
    runs = "\n".join(step.get("run", "") for step in steps(workflow))
    selected = re.findall(r'marks="([^"]+)"', runs)
    assert len(selected) == len(workflow["jobs"]["e2e"]["strategy"]["matrix"]["shard"])
    for expression in selected:
        assert set(expression.replace(" or ", " ").split()) <= markers, expression
