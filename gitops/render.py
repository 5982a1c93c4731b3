"""Render monitoring/ into Kubernetes manifests for Argo CD (see gitops/README.md).

    python gitops/render.py --env staging --out build/gitops/staging

writes into --out:
  prometheusrules.yaml   one PrometheusRule per monitoring/prometheus/rules/*.rules.yml
  dashboards.yaml        one ConfigMap per monitoring/grafana/dashboards/*.json, labelled for
                         the Grafana dashboard sidecar
  alertmanager-secret.yaml
                         the Alertmanager config as a Secret (kube-prometheus-stack layout),
                         webhook URLs taken from the environment; seal it before committing
  kustomization.yaml     lists the above

The rule and dashboard files are copied verbatim (no templating), so what `promtool test rules`
and tests/test_monitoring.py checked is exactly what is deployed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "monitoring" / "prometheus" / "rules"
DASHBOARDS_DIR = ROOT / "monitoring" / "grafana" / "dashboards"
ALERTMANAGER_CONFIG = ROOT / "monitoring" / "alertmanager" / "alertmanager.yml"

# Placeholders in alertmanager.yml and the environment variables that replace them.
CONSOLE_URL_PLACEHOLDER = "http://127.0.0.1:8080/api/alertmanager/webhook"
PAGER_URL_PLACEHOLDER = "http://127.0.0.1:9/pager/webhook"
CONSOLE_URL_ENV = "MCP_CONSOLE_WEBHOOK_URL"
PAGER_URL_ENV = "MCP_PAGER_WEBHOOK_URL"

COMMON_LABELS = {"app.kubernetes.io/part-of": "mcp-monitoring"}


def prometheus_rules(namespace: str, rule_labels: dict[str, str]) -> list[dict[str, Any]]:
    """One PrometheusRule per rule file, its groups unchanged."""
    docs = []
    for path in sorted(RULES_DIR.glob("*.rules.yml")):
        groups = yaml.safe_load(path.read_text())["groups"]
        domain = path.name.removesuffix(".rules.yml")
        docs.append({
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {
                "name": f"mcp-{domain}",
                "namespace": namespace,
                "labels": {**COMMON_LABELS, **rule_labels},
                "annotations": {"mcp-e2e/source": f"monitoring/prometheus/rules/{path.name}"},
            },
            "spec": {"groups": groups},
        })
    return docs


def dashboard_configmaps(namespace: str, folder: str) -> list[dict[str, Any]]:
    """One ConfigMap per dashboard, picked up by the Grafana sidecar (label grafana_dashboard)."""
    docs = []
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        text = path.read_text()
        json.loads(text)  # refuse to ship invalid JSON
        docs.append({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": f"grafana-dashboard-{path.stem}",
                "namespace": namespace,
                "labels": {**COMMON_LABELS, "grafana_dashboard": "1"},
                "annotations": {"grafana_folder": folder},
            },
            "data": {path.name: text},
        })
    return docs


def alertmanager_secret(namespace: str, name: str, env: dict[str, str]) -> dict[str, Any]:
    """The Alertmanager config as the Secret kube-prometheus-stack mounts (key alertmanager.yaml).

    Webhook URLs come from the environment (CI secrets); a missing one is an error rather than
    a silently deployed placeholder.
    """
    text = ALERTMANAGER_CONFIG.read_text()
    for placeholder, var in ((CONSOLE_URL_PLACEHOLDER, CONSOLE_URL_ENV),
                             (PAGER_URL_PLACEHOLDER, PAGER_URL_ENV)):
        if text.count(placeholder) != 1:
            raise SystemExit(f"render: expected exactly one {placeholder} in {ALERTMANAGER_CONFIG}")
        value = env.get(var)
        if not value:
            raise SystemExit(f"render: set {var} (the webhook URL replacing {placeholder})")
        text = text.replace(placeholder, value)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(COMMON_LABELS)},
        "type": "Opaque",
        "stringData": {"alertmanager.yaml": text},
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (PromQL, dashboards, alertmanager.yaml) as readable | blocks."""


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_representer)


def write_all(out: Path, files: dict[str, list[dict[str, Any]]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, docs in files.items():
        text = yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, width=1000)
        (out / name).write_text(text)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(files),
    }
    (out / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))


def parse_labels(pairs: list[str]) -> dict[str, str]:
    labels = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"render: --rule-label wants key=value, got {pair!r}")
        labels[key] = value
    return labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="environment name (staging, prod, ...)")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--namespace", default="monitoring")
    parser.add_argument("--rule-label", action="append", default=["release=kube-prometheus-stack"],
                        help="label the Prometheus ruleSelector matches (repeatable)")
    parser.add_argument("--grafana-folder", default="MCP")
    parser.add_argument("--alertmanager-secret",
                        default="alertmanager-kube-prometheus-stack-alertmanager",
                        help="name of the Secret holding alertmanager.yaml")
    parser.add_argument("--no-alertmanager", action="store_true",
                        help="skip the Alertmanager Secret (rules and dashboards only)")
    args = parser.parse_args(argv)

    files: dict[str, list[dict[str, Any]]] = {
        "prometheusrules.yaml": prometheus_rules(args.namespace, parse_labels(args.rule_label)),
        "dashboards.yaml": dashboard_configmaps(args.namespace, args.grafana_folder),
    }
    if not args.no_alertmanager:
        files["alertmanager-secret.yaml"] = [
            alertmanager_secret(args.namespace, args.alertmanager_secret, dict(os.environ))
        ]
    for docs in files.values():
        for doc in docs:
            doc["metadata"]["labels"]["mcp-e2e/env"] = args.env
    write_all(args.out, files)
    print(f"render: wrote {', '.join(sorted(files))} to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
