"""JSON Schema validation of v1 frames against fixtures/schemas/ (envelope + per-type payload)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "schemas"
ENVELOPE = "envelope"


@cache
def _validators() -> dict[str, Draft202012Validator]:
    schemas = {
        path.name.removesuffix(".schema.json"): json.loads(path.read_text())
        for path in sorted(SCHEMA_DIR.glob("*.schema.json"))
    }
    registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema))
        for schema in schemas.values()
        if "$id" in schema
    )
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)  # a broken schema fails loudly, once
    return {
        name: Draft202012Validator(schema, registry=registry, format_checker=FormatChecker())
        for name, schema in schemas.items()
    }


def frame_errors(frame: object) -> list[str]:
    """Every way a decoded frame breaks the contract; [] when it is valid.

    Unknown types pass the envelope check only: the contract lets servers add types.
    """
    validators = _validators()
    errors = [f"envelope: {e.message}" for e in validators[ENVELOPE].iter_errors(frame)]
    if errors or not isinstance(frame, dict):
        return errors
    payload_validator = validators.get(frame["type"])
    if payload_validator is not None:
        errors += [
            f"{frame['type']} payload at /{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in payload_validator.iter_errors(frame["payload"])
        ]
    return errors


def validator(name: str) -> Draft202012Validator:
    """The validator of one schema file, by its name (with or without .schema.json)."""
    return _validators()[name.removesuffix(".schema.json")]
