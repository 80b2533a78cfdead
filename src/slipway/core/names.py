"""Checks for user-supplied names, keys and values, so bad input fails before it is stored."""

from __future__ import annotations

import math
import re
from typing import Any

from slipway.core.errors import InvalidInput
from slipway.core.limits import whole_number

# Checked with fullmatch: a pattern ending in "$" also accepts a trailing newline.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
KEY_RE = re.compile(r"[A-Za-z0-9_.\-/ :]+")
MAX_NAME = 200
MAX_KEY = 250
MAX_VALUE = 6000


def check_name(value: Any, what: str = "name") -> str:
    """Names of experiments, datasets, models, deployments: letters, digits, ``_ . -``."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > MAX_NAME:
        raise InvalidInput(f"{what} is {len(value)} characters; the limit is {MAX_NAME}")
    if not NAME_RE.fullmatch(value):
        raise InvalidInput(
            f"{what} {value!r} is malformed: use letters, digits, '_', '.', '-', starting with a letter or digit"
        )
    return value


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_label(value: Any, what: str = "name") -> str:
    """Names of experiments and runs: free text, as MLflow allows (``"MLflow Quickstart"``,
    ``/Users/me/churn model``), but not blank, at most ``MAX_NAME`` characters, and with no
    control character (a newline would forge lines in logs and listings). They are shown and
    matched, never joined into a path or a reference, so spaces and punctuation are harmless."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > MAX_NAME:
        raise InvalidInput(f"{what} is {len(value)} characters; the limit is {MAX_NAME}")
    if _CONTROL.search(value):
        raise InvalidInput(f"{what} {value!r} is malformed: it holds a control character")
    return value


def check_key(value: Any, what: str = "key") -> str:
    """Param, metric and tag keys: MLflow's alphabet (letters, digits, ``_ - . / : space``)."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > MAX_KEY:
        raise InvalidInput(f"{what} {value[:40]!r}... is {len(value)} characters; the limit is {MAX_KEY}")
    if not KEY_RE.fullmatch(value) or value.startswith("/") or ".." in value.split("/"):
        raise InvalidInput(f"{what} {value!r} is malformed: use letters, digits and '_ - . / : space'")
    return value


def check_value(value: Any, what: str = "value", limit: int = MAX_VALUE) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise InvalidInput(f"{what} is {len(text)} characters; the limit is {limit}")
    return text


def check_number(value: Any, what: str = "metric value") -> float:
    """A metric value: an int or float (bools and strings are refused). NaN and inf are kept."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            import numpy as np

            if isinstance(value, np.integer | np.floating):
                return float(value)
        except ImportError:  # pragma: no cover
            pass
        raise InvalidInput(f"{what} must be a number, got {type(value).__name__} {value!r}")
    result = float(value)
    if math.isnan(result) and not isinstance(value, float):  # pragma: no cover
        raise InvalidInput(f"{what} is not a number")
    return result


def split_versioned(ident: str, separator: str) -> tuple[str, int] | None:
    """``("name", 3)`` for ``"name<separator>3"`` (a lineage id), None when it is not one."""
    name, _, number = ident.rpartition(separator)
    return (name, int(number)) if name and whole_number(number) is not None else None
