"""What the Pushgateway already holds (`GET /api/v1/metrics`), and whether a push fits with it.

The gateway rejects a whole push (400) when one of its families has another type than the same
family in any other group, or when a name collides with a histogram's `_bucket`/`_sum`/`_count`;
it silently keeps the first help text when two groups disagree. `find_conflicts` finds all three
before the push, so a renamed or retyped family is reported by name instead of being pushed.
The group being replaced is left out: a PUT replaces it whole.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reporting.grouping import describe

GATEWAY_FAMILIES = frozenset({"push_time_seconds", "push_failure_time_seconds"})
_DERIVED = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


@dataclass(frozen=True)
class FamilyDefinition:
    """A metric family's name, type (lower case, as in the text format) and help text."""

    name: str
    type: str
    help: str

    def sample_names(self) -> tuple[str, ...]:
        return (self.name, *(self.name + suffix for suffix in _DERIVED.get(self.type, ())))


@dataclass
class GatewayGroup:
    """One group on the gateway: its grouping labels and its families as stored."""

    labels: dict[str, str]
    families: dict[str, dict[str, Any]] = field(default_factory=dict)

    def definition(self, name: str) -> FamilyDefinition:
        family = self.families[name]
        return FamilyDefinition(name, str(family.get("type", "")).lower(),
                                str(family.get("help", "")))

    def value(self, name: str) -> float | None:
        """The first sample's value of an unlabelled gauge family, or None."""
        try:
            number = float(self.families[name]["metrics"][0]["value"])
        except (KeyError, IndexError, TypeError, ValueError):
            return None
        return number if math.isfinite(number) else None

    def last_push_time(self) -> float | None:
        """When somebody last pushed to the group: the newer of its last success and its last
        failure (a group still pushed to, even in vain, is not abandoned)."""
        times = [self.value(name) for name in ("push_time_seconds", "push_failure_time_seconds")]
        known = [time for time in times if time]
        return max(known) if known else None


@dataclass
class GatewayState:
    """Every group the gateway holds."""

    groups: list[GatewayGroup]

    @classmethod
    def from_json(cls, body: bytes) -> GatewayState:
        """ValueError if `body` is not the gateway's /api/v1/metrics answer."""
        try:
            document = json.loads(body)
            groups = []
            for entry in document["data"]:
                labels = {str(key): str(val) for key, val in entry["labels"].items()}
                families = {name: val for name, val in entry.items()
                            if isinstance(val, dict) and "type" in val}
                groups.append(GatewayGroup(labels, families))
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"unexpected /api/v1/metrics answer ({exc})") from None
        return cls(groups)

    def group(self, labels: Mapping[str, str]) -> GatewayGroup | None:
        wanted = dict(labels)
        for group in self.groups:
            if group.labels == wanted:
                return group
        return None

    def groups_of_job(self, job: str) -> list[GatewayGroup]:
        return [group for group in self.groups if group.labels.get("job") == job]


@dataclass(frozen=True)
class Conflict:
    """One of our families disagrees with what another group on the gateway holds."""

    ours: FamilyDefinition
    theirs: FamilyDefinition
    group: dict[str, str]

    def describe(self) -> str:
        where = f"group {describe(self.group)}"
        if self.ours.name != self.theirs.name:
            return (f"{self.ours.name} ({self.ours.type}) collides with {self.theirs.type} "
                    f"{self.theirs.name} in {where}")
        if self.ours.type != self.theirs.type:
            return (f"{self.ours.name} is a {self.ours.type} here but a {self.theirs.type} "
                    f"in {where}")
        return (f"{self.ours.name} help differs from {where}: "
                f"here {self.ours.help!r}, there {self.theirs.help!r}")


def find_conflicts(
    ours: Iterable[FamilyDefinition], state: GatewayState, own_labels: Mapping[str, str]
) -> list[Conflict]:
    """Type, help and name clashes of `ours` with every group except our own."""
    own = dict(own_labels)
    by_sample_name: dict[str, FamilyDefinition] = {}
    definitions = list(ours)
    for definition in definitions:
        for sample_name in definition.sample_names():
            by_sample_name[sample_name] = definition
    conflicts: list[Conflict] = []
    seen: set[tuple[str, str]] = set()
    for group in state.groups:
        if group.labels == own:
            continue
        for name in group.families:
            if name in GATEWAY_FAMILIES:
                continue
            theirs = group.definition(name)
            for their_name in theirs.sample_names():
                mine = by_sample_name.get(their_name)
                if mine is None:
                    continue
                same_family = mine.name == theirs.name
                differs = (not same_family or mine.type != theirs.type
                           or mine.help != theirs.help)
                key = (mine.name, theirs.name)
                if differs and key not in seen:
                    seen.add(key)
                    conflicts.append(Conflict(mine, theirs, dict(group.labels)))
                break
    order = {definition.name: index for index, definition in enumerate(definitions)}
    return sorted(conflicts, key=lambda conflict: order[conflict.ours.name])
