"""Diffing a repository's definitions against the store: what ``plan`` shows and ``apply`` does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slipway.features.records import PlanChange
from slipway.features.spec import check_references, schema_digest

Key = tuple[str, str]


def diff(incoming: Sequence[dict[str, Any]], current: Mapping[Key, tuple[int, dict[str, Any]]],
         latest_version: Mapping[Key, int], prune: bool) -> list[PlanChange]:
    """The change per definition. ``current`` maps (kind, name) to the version in force and its
    spec; ``latest_version`` also counts removed definitions (a re-added one takes the next number).

    Raises:
        InvalidInput: the set after the change would refer to something undefined.
    """
    changes: list[PlanChange] = []
    seen: set[Key] = set()
    for spec in incoming:
        key = (spec["kind"], spec["name"])
        seen.add(key)
        if key not in current:
            changes.append(PlanChange(*key, "add", latest_version.get(key, 0) + 1, None, []))
            continue
        version, stored = current[key]
        fields = sorted(k for k in set(spec) | set(stored) if spec.get(k) != stored.get(k))
        if not fields:
            changes.append(PlanChange(*key, "unchanged", version, version, []))
        elif schema_digest(spec) == schema_digest(stored):
            changes.append(PlanChange(*key, "update", version, version, fields))
        else:
            changes.append(PlanChange(*key, "new_version", latest_version[key] + 1, version, fields))
    for key, (version, _) in sorted(current.items()):
        if key not in seen:
            changes.append(PlanChange(*key, "remove" if prune else "kept", None, version, []))
    after = list(incoming) + [current[c.kind, c.name][1] for c in changes if c.action == "kept"]
    check_references(after)
    return changes
