"""A group's URL path on the Pushgateway, `/metrics/job/<job>/<label>/<value>...`.

A value goes into the path as it is only when it is made of `A-Z a-z 0-9 _ -` (and is not
empty); every other value — `/`, spaces, dots (`.` and `..` would be folded away by URL
normalisation), quotes, backslashes, `%`, `+`, unicode, any length — goes in the Pushgateway's
`<label>@base64/<urlsafe base64 with padding>` form, and the empty value as `<label>@base64/=`.
prometheus_client's push_to_gateway only does this for values with `/` or a space; this module
does it for every value that is not plain, so any value round-trips exactly.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping

_PLAIN = re.compile(r"[A-Za-z0-9_-]+")


def path_segment(name: str, value: str) -> str:
    """`name/value` or `name@base64/...` for one grouping label."""
    if value == "":
        return f"{name}@base64/="
    if _PLAIN.fullmatch(value):
        return f"{name}/{value}"
    encoded = base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii")
    return f"{name}@base64/{encoded}"


def group_path(job: str, grouping_key: Mapping[str, str]) -> str:
    """`/metrics/job/<job>` plus the other labels in name order (as the gateway stores them)."""
    parts = [path_segment("job", job)]
    parts += [path_segment(name, grouping_key[name]) for name in sorted(grouping_key)]
    return "/metrics/" + "/".join(parts)


def describe(labels: Mapping[str, str]) -> str:
    """`job=... env=... suite=...` for humans: job first, then the rest in their order."""
    ordered = sorted(labels, key=lambda name: name != "job")
    return " ".join(f"{name}={labels[name]}" for name in ordered)
