"""Checks emitted payloads against the contract's JSON Schemas (test controls only)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource


class SchemaError(RuntimeError):
    """The schema folder is missing or incomplete."""


class PayloadValidator:
    """One validator per event type, from <type>.schema.json, $refs resolved by $id."""

    def __init__(self, schema_dir: Path, event_types: Iterable[str]) -> None:
        if not schema_dir.is_dir():
            raise SchemaError(
                f"schema folder {schema_dir} not found; test controls validate payloads "
                "against the repo's fixtures/schemas, so run from a source checkout"
            )
        schemas = {
            path.name: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(schema_dir.glob("*.schema.json"))
        }
        registry: Registry = Registry().with_resources(
            (schema["$id"], Resource.from_contents(schema))
            for schema in schemas.values()
            if "$id" in schema
        )
        self._validators: dict[str, Draft202012Validator] = {}
        for event_type in event_types:
            schema = schemas.get(f"{event_type}.schema.json")
            if schema is None:
                raise SchemaError(f"no schema for {event_type!r} in {schema_dir}")
            Draft202012Validator.check_schema(schema)
            self._validators[event_type] = Draft202012Validator(
                schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
            )

    def error(self, event_type: str, payload: Any) -> str | None:
        """None if payload is valid for event_type, else the most relevant error, with where."""
        error = best_match(self._validators[event_type].iter_errors(payload))
        if error is None:
            return None
        where = error.json_path if error.path else "payload"
        return f"{where.replace('$', 'payload', 1)}: {error.message}"
