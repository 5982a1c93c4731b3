"""Exposition files that remember their group, and the spool of pushes still to be made.

Every file the reporter writes starts with one comment line naming its Pushgateway group,
`# e2e-group {"job": "mcp_e2e", "env": "local", "suite": "e2e"}`, which Prometheus text parsers
ignore; `python -m reporting push FILE` reads it, so a saved file goes back to its own group.

When a push does not happen (gateway down, refusing, 4xx/5xx, inconsistent families), the same
bytes are kept in `<metrics file's folder>/spool/<group>.prom`, one file per group (a newer
failed run replaces an older one: a PUT replaces the whole group anyway). A later successful
push of that group to the same gateway removes its spool file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

GROUP_HEADER = "# e2e-group "
SPOOL_FOLDER = "spool"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def with_group_header(body: bytes, labels: Mapping[str, str]) -> bytes:
    header = GROUP_HEADER + json.dumps(dict(labels), ensure_ascii=True, sort_keys=False)
    return header.encode("ascii") + b"\n" + body


def group_of(text: str) -> dict[str, str] | None:
    """The group named by the file's `# e2e-group` line, or None."""
    first = text.split("\n", 1)[0]
    if not first.startswith(GROUP_HEADER):
        return None
    try:
        labels = json.loads(first[len(GROUP_HEADER):])
    except json.JSONDecodeError:
        return None
    if not isinstance(labels, dict) or not all(
        isinstance(key, str) and isinstance(val, str) for key, val in labels.items()
    ):
        return None
    return labels


def spool_path(metrics_file: Path, labels: Mapping[str, str], gateway: str = "") -> Path:
    """`<folder>/spool/<job>-<env>-<suite>[-<shard>]-<hash of group and gateway>.prom`: a run
    meant for one gateway is never superseded by a push of the same group to another."""
    readable = "-".join(_UNSAFE.sub("_", value) for value in labels.values())[:80]
    key = json.dumps([dict(labels), gateway], sort_keys=True).encode()
    digest = hashlib.sha256(key).hexdigest()[:8]
    return metrics_file.parent / SPOOL_FOLDER / f"{readable}-{digest}.prom"


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file of its own in the same folder, removed
    if the write fails (OSError then)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide the file from a textfile collector
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
