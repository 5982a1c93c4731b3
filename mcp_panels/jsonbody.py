"""Request bodies as JSON, strictly: what a JSON client elsewhere could not read is an error."""

from __future__ import annotations

import json
from typing import Any


class MalformedJSON(ValueError):
    """The body is not strict JSON; the message says why (for a 400 answer)."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_json(raw: bytes) -> Any:
    """JSON text → value. NaN/Infinity, invalid UTF-8 and nesting deep enough to exhaust the
    parser's recursion (a hostile body of 100 000 "[") are MalformedJSON, not a 500."""
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise MalformedJSON(f"body is not UTF-8: {exc}") from None
    except RecursionError:
        raise MalformedJSON("malformed JSON: nested too deeply") from None
    except ValueError as exc:
        raise MalformedJSON(f"malformed JSON: {exc}") from None
