"""What a panel render must show for a given payload (the frame that carried it)."""

from __future__ import annotations

from typing import Any

from e2e.support.renders import Render


def health_mismatches(render: Render, health: dict[str, Any]) -> list[str]:
    out = []
    for component in health["components"]:
        name = component["name"]
        row = f"health-row-{name}"
        if row not in render.items:
            out.append(f"{name}: no row")
            continue
        if render.attr(row, "status") != component["status"]:
            out.append(f"{name}: status {render.attr(row, 'status')!r} != {component['status']!r}")
        shown = render.text(f"health-detail-{name}")
        if shown != component["detail"]:
            out.append(f"{name}: detail {shown!r} != {component['detail']!r}")
    return out


def metrics_mismatches(render: Render, metrics: dict[str, Any]) -> list[str]:
    out = []
    for name, value in metrics["values"].items():
        cell = f"metric-{name}"
        if cell not in render.items:
            out.append(f"{name}: not shown")
        elif float(render.attr(cell, "value")) != float(value):
            out.append(f"{name}: shows {render.attr(cell, 'value')!r}, sent {value!r}")
    return out
