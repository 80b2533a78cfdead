"""Dataset versions as trigger events, read through ``ws.data``."""

from __future__ import annotations

from typing import Any

from slipway.core.errors import NotFound


def latest_version(host: Any, dataset: str) -> int | None:
    """The newest version number of ``dataset``, or None when it has none yet."""
    try:
        versions = host.service("data").versions(dataset)
    except NotFound:
        return None
    return max((v.version for v in versions), default=None)


def new_versions(host: Any, dataset: str, after: int | None) -> list[str]:
    """``name@N`` of every version of ``dataset`` newer than ``after``, oldest first."""
    try:
        versions = host.service("data").versions(dataset)
    except NotFound:
        return []
    numbers = sorted(v.version for v in versions if after is None or v.version > after)
    return [f"{dataset}@{n}" for n in numbers]
