"""Dataset references: ``name``, ``name@3`` or ``name@latest``."""

from __future__ import annotations

from typing import Any

from slipway.core.errors import InvalidInput
from slipway.core.names import check_name


def parse_ref(ref: Any) -> tuple[str, int | None]:
    """Split a reference into (name, version); version None means the latest.

    Raises:
        InvalidInput: the reference is malformed, e.g. ``ai4i@two``.
    """
    if hasattr(ref, "name") and hasattr(ref, "version"):
        return check_name(ref.name, "dataset name"), int(ref.version)
    if not isinstance(ref, str) or not ref:
        raise InvalidInput(f"a dataset reference is 'name' or 'name@version', got {ref!r}")
    name, sep, version = ref.partition("@")
    check_name(name, "dataset name")
    if not sep or version == "latest":
        return name, None
    if not version.isdigit() or not 1 <= int(version) < 2**63:
        raise InvalidInput(f"dataset reference {ref!r}: the version must be a positive number or 'latest'")
    return name, int(version)
