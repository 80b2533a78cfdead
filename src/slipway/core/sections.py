"""Typed settings per domain: each domain declares its table of the config file as a frozen
dataclass, and :func:`parse_section` checks a table against it once, when settings load.

``[governance]`` is :class:`slipway.governance.settings.GovernanceSettings`, ``[audit]``
:class:`slipway.audit.settings.AuditSettings`, ``[serving]``
:class:`slipway.serving.options.ServeOptions`. They are named by path in :data:`SECTION_TYPES`
because core sits below the domains; a new domain adds its line there. An unknown table, an
unknown key or a value of the wrong type is an :class:`~slipway.core.errors.InvalidInput` naming
the key and what it must be. A nested table (``[governance.webhooks]``) is a nested dataclass.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing
from collections.abc import Mapping
from typing import Any

from slipway.core.errors import InvalidInput

SECTION_TYPES: dict[str, str] = {
    "governance": "slipway.governance.settings:GovernanceSettings",
    "audit": "slipway.audit.settings:AuditSettings",
    "serving": "slipway.serving.options:ServeOptions",
    "signin": "slipway.identity.settings:SigninSettings",
}


def section_type(name: str) -> type:
    path = SECTION_TYPES.get(name)
    if path is None:
        raise InvalidInput(f"unknown settings table [{name}]; known tables: slipway, {', '.join(sorted(SECTION_TYPES))}")
    module, _, attribute = path.partition(":")
    cls: type = getattr(importlib.import_module(module), attribute)
    return cls


def parse_section(name: str, table: Any) -> Any:
    """The typed settings of table ``name`` (its defaults when ``table`` is empty)."""
    return _parse(section_type(name), table, name)


def _parse(cls: type, table: Any, where: str) -> Any:
    if not isinstance(table, Mapping):
        raise InvalidInput(f"settings [{where}] must be a table of settings, got {table!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(table) - set(names))
    if unknown:
        raise InvalidInput(f"unknown [{where}] settings {', '.join(map(str, unknown))}; known: {', '.join(names)}")
    return cls(**{key: _value(hints[key], value, f"{where}.{key}") for key, value in table.items()})


def _value(kind: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return _parse(kind, value, where)
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        for option in options[:-1]:
            try:
                return _value(option, value, where)
            except InvalidInput:
                continue
        return _value(options[-1], value, where)
    if origin is tuple:
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise InvalidInput(f"settings {where} must be a list of names, got {value!r}")
    if origin is dict:
        if isinstance(value, Mapping) and all(_is(args[1], v) for v in value.values()):
            return {str(k): v for k, v in value.items()}
        raise InvalidInput(f"settings {where} must be a table of {_label(args[1])}, got {value!r}")
    if not _is(kind, value):
        raise InvalidInput(f"settings {where} = {value!r} must be {_label(kind)}")
    return float(value) if kind is float else value


def _is(kind: Any, value: Any) -> bool:
    if kind is Any:
        return True
    if isinstance(value, bool):
        return kind is bool
    return isinstance(value, (int, float) if kind is float else kind)


def _label(kind: Any) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number", str: "text in quotes"}.get(kind, str(kind))
