"""Turns a pytest run into Prometheus metrics and pushes them.

Public API for test authors: `reporting.observe(request, metric, value, **labels)`.
The pytest plugin itself is `reporting.plugin` (entry point `mcp_e2e_reporting`).
"""

from reporting.observations import observe

__all__ = ["observe"]
