"""Dataset references (``name``, ``name@3`` or ``name@latest``) and the local paths users name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from slipway.core.errors import InvalidInput
from slipway.core.limits import whole_number
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
    if not whole_number(version):
        raise InvalidInput(f"dataset reference {ref!r}: the version must be a positive number or 'latest'")
    return name, int(version)


def given_path(value: str | os.PathLike[str]) -> Path:
    """A path the user named; an empty one is a mistake, not the current folder.

    Raises:
        InvalidInput: the path is empty.
    """
    if not os.fspath(value):
        raise InvalidInput("the path is empty; name a file or a folder (use '.' for this folder)")
    return Path(value)
