"""How much a caller may send: characters in a text, items in a list or map, depth of nesting.

Every ``@endpoint`` checks its arguments here before it runs (:func:`check_arguments`, called by
:func:`slipway.core.auth.endpoint`), so an embedded call meets the same limits as a remote one;
the platform server also publishes them in the request schemas of its OpenAPI document. The
numbers start from MLflow's (a key 250 characters, a param value 6,000, a tag value 8,000).

An argument's limits come from its name (the same name means the same thing in every service:
``tags`` are always tags); a name not listed gets :data:`DEFAULT`. Inside an argument, every text
(map keys included) is bounded by the argument's ``text`` limit (``key`` for map keys), every list
and map by ``items``, nesting by :data:`MAX_DEPTH`, and numbers by 64-bit integers (or the argument's own range). Texts may not hold a
NUL character or an unpaired surrogate (no database stores them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from slipway.core.errors import InvalidInput

KEY = 250  # a param, metric or tag key; a name pattern
PARAM_VALUE = 6_000
TAG_VALUE = 8_000
TEXT = 8_000  # any other text: a name, an id, a reference, a reason, a comment, a description, a filter
LONG_TEXT = 1_000_000  # source code, schema documents, model-card sections, errors with tracebacks
ITEMS = 10_000  # a list or map whose name is not listed below
BATCH_PARAMS = 1_000
BATCH_TAGS = 1_000
# The background metric logger sends up to 20,000 points per call (slipway.tracking.logger).
BATCH_METRICS = 20_000
BATCH_FEEDBACK = 100_000
# Runs imported in one call (slipway import mlflow): a run's whole metric history is one list.
IMPORT_POINTS = 2_000_000
MAX_DEPTH = 32
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


@dataclasses.dataclass(frozen=True)
class ArgumentLimits:
    """The limits of one argument: characters of each text inside it (``key`` for map keys),
    items of each list or map inside it, and the range of each number inside it."""

    text: int = TEXT
    items: int = ITEMS
    key: int = TEXT
    low: float | None = None  # the range of numbers, when the argument has one
    high: float | None = None


DEFAULT = ArgumentLimits()
_LONG = ArgumentLimits(text=LONG_TEXT)
BY_NAME: dict[str, ArgumentLimits] = {
    "tags": ArgumentLimits(text=TAG_VALUE, items=BATCH_TAGS, key=KEY),
    "params": ArgumentLimits(text=PARAM_VALUE, items=BATCH_PARAMS, key=KEY),
    "metrics": ArgumentLimits(text=KEY, items=BATCH_METRICS, key=KEY),
    "key": ArgumentLimits(text=KEY),
    "name_like": ArgumentLimits(text=KEY),
    "body": _LONG,
    "source": _LONG,
    "text": _LONG,
    "error": _LONG,
    "updates": _LONG,
    "items": ArgumentLimits(items=BATCH_FEEDBACK),  # late labels, in bulk
    "expires_in_days": ArgumentLimits(low=0, high=36_500),
    "ttl_s": ArgumentLimits(low=0, high=86_400),  # a leader lease: at most a day
    "runs": ArgumentLimits(text=TAG_VALUE, items=IMPORT_POINTS, key=KEY),
}


def limits_for(name: str) -> ArgumentLimits:
    """The limits of the argument called ``name``."""
    return BY_NAME.get(name, DEFAULT)


def check_arguments(arguments: Mapping[str, Any]) -> None:
    """Check a call's arguments (by name) against their limits.

    Raises:
        InvalidInput: naming the argument (and the place inside it) that is too long, too big,
            too deep, an integer beyond 64 bits, or a text with a NUL or a lone surrogate.
    """
    for name, value in arguments.items():
        if value is None or type(value) is bool:
            continue
        _check(value, limits_for(name), name, 0)


def check_text(value: str, limit: int, where: str) -> None:
    """Refuse a text longer than ``limit`` characters or one no database can store."""
    if len(value) > limit:
        raise InvalidInput(f"{where} is {len(value)} characters; the limit is {limit}")
    if "\x00" in value:
        raise InvalidInput(f"{where} contains a NUL character")
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError as err:
            raise InvalidInput(f"{where} is not valid Unicode text (a lone surrogate at {err.start})") from err


def _check(value: Any, limits: ArgumentLimits, where: str, depth: int) -> None:
    if isinstance(value, str):
        check_text(value, limits.text, where)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        _check_number(value, limits, where)
    elif depth >= MAX_DEPTH:
        if isinstance(value, dict | list | tuple | set | frozenset) or dataclasses.is_dataclass(value):
            raise InvalidInput(f"{where} is nested more than {MAX_DEPTH} levels deep")
    elif isinstance(value, dict):
        _check_size(value, limits, where)
        for key, item in value.items():
            if isinstance(key, str):
                check_text(key, limits.key, f"a key of {where}")
            _check(item, limits, f"{where}[{str(key)[:40]!r}]", depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        _check_items(value, limits, where, depth)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            _check(getattr(value, field.name), limits, f"{where}.{field.name}", depth + 1)


def _check_items(items: Any, limits: ArgumentLimits, where: str, depth: int) -> None:
    # The hot path of large batches (20,000 metric points a call): plain items are checked
    # inline, and only what may be wrong (or is a container) goes through _check.
    _check_size(items, limits, where)
    ranged = limits.low is not None
    for index, item in enumerate(items):
        kind = type(item)
        if kind is float or kind is bool or item is None:
            continue
        if kind is str:
            if len(item) <= limits.text and item.isascii() and "\x00" not in item:
                continue
        elif kind is int:
            if not ranged and INT_MIN <= item <= INT_MAX:
                continue
        elif (kind is tuple or kind is list) and depth + 1 < MAX_DEPTH:
            _check_items(item, limits, f"{where}[{index}]", depth + 1)
            continue
        _check(item, limits, f"{where}[{index}]", depth + 1)


def _check_number(value: float, limits: ArgumentLimits, where: str) -> None:
    if isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        raise InvalidInput(f"{where} is {value}, beyond a 64-bit integer")
    if limits.low is not None and limits.high is not None and not limits.low <= value <= limits.high:
        raise InvalidInput(f"{where} is {value}; it must be between {limits.low:g} and {limits.high:g}")


def _check_size(value: Any, limits: ArgumentLimits, where: str) -> None:
    if len(value) > limits.items:
        raise InvalidInput(f"{where} has {len(value)} items; the limit is {limits.items}")


def whole_number(text: str) -> int | None:
    """``text`` as a non-negative 64-bit integer if it is one written in ASCII digits, else None.

    ``str.isdigit`` is not enough: it accepts "²" and other digits that ``int`` refuses.
    """
    if not text or not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if value <= INT_MAX else None
