"""Response schemas of the platform API, derived from the types the backends return.

A backend method's return annotation (a ``@record`` dataclass, a list or map of them, a
``TypedDict``, a plain type) is turned into the JSON its answer is on the wire
(:func:`slipway.core.records.dumps`): a record is an object with exactly its fields and
``"$r": "<RecordName>"``, tuples and sets are arrays, ``None`` is ``null``, and a float may be
``{"$f": "NaN" | "Infinity" | "-Infinity"}`` (JSON has no literal for those). The schemas are
published as ``components/schemas/<RecordName>`` in the OpenAPI document, so a client generator
gets typed results and a fuzzer (schemathesis) can check every answer against them.

Routes that are not ``@endpoint`` methods name what they return with :func:`returns`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
import typing
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

F = TypeVar("F", bound=Callable[..., Any])
K = TypeVar("K", bound=Hashable)
BINARY = {"type": "string", "format": "binary"}


class NonFiniteFloat(BaseModel):
    """A float JSON cannot write as a number."""

    model_config = ConfigDict(extra="forbid")
    value: Literal["NaN", "Infinity", "-Infinity"] = Field(alias="$f")


def returns(hint: Any) -> Callable[[F], F]:
    """Name what a route that is not an ``@endpoint`` answers (``bytes``: a binary download)."""

    def mark(route: F) -> F:
        route.__slipway_result__ = hint  # type: ignore[attr-defined]
        return route

    return mark


def result_of(function: Callable[..., Any]) -> Any:
    """What ``function`` (an ``@endpoint`` method or a route marked by :func:`returns`) answers."""
    marked = getattr(function, "__slipway_result__", None)
    if marked is not None:
        return marked
    return typing.get_type_hints(inspect.unwrap(function)).get("return", Any)


def wire_result(hint: Any) -> Any:
    """The pydantic type of a value typed ``hint`` as :func:`~slipway.core.records.dumps` writes it."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        return wire_result(args[0])
    if origin is Union or origin is types.UnionType:
        return Union[tuple(wire_result(arg) for arg in args)]  # noqa: UP007 - built at run time
    if hint is type(None):
        return None
    if hint is float:
        return Union[float, NonFiniteFloat]  # noqa: UP007 - the same style as above
    if hint in (str, bool, int):
        return Annotated[hint, Field(strict=True)]
    if origin is tuple and args and args[-1] is not Ellipsis:
        return tuple[tuple(wire_result(arg) for arg in args)]  # type: ignore[misc]
    if origin in (list, tuple, set, frozenset, Sequence):
        return list[wire_result(args[0]) if args else Any]  # type: ignore[misc]
    if origin in (dict, Mapping):
        return dict[str, wire_result(args[1]) if len(args) == 2 else Any]  # type: ignore[misc]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return record_model(hint)
    if typing.is_typeddict(hint):
        return typed_dict_model(hint)
    return Any


def _description(cls: type) -> str | None:
    doc = cls.__doc__ or ""
    # A dataclass without a docstring gets its signature as one: that says nothing.
    return None if not doc or doc.startswith(cls.__name__ + "(") else inspect.cleandoc(doc)


@functools.cache
def record_model(cls: type) -> type[BaseModel]:
    """A record as it is answered: every field, and its ``"$r"`` tag."""
    hints = typing.get_type_hints(cls)
    # Fields are named by alias, so a record's field may be called "schema" or "json".
    fields: dict[str, Any] = {f"field_{f.name}": (wire_result(hints[f.name]), Field(alias=f.name))
                              for f in dataclasses.fields(cls)}
    fields["wire_tag"] = (Literal[cls.__name__], Field(alias="$r"))
    return create_model(cls.__name__, __config__=ConfigDict(extra="forbid"), __doc__=_description(cls), **fields)


@functools.cache
def typed_dict_model(cls: type) -> type[BaseModel]:
    """A ``TypedDict`` as it is answered: its keys (the required ones always present)."""
    hints = typing.get_type_hints(cls)
    required = cls.__required_keys__  # type: ignore[attr-defined]
    fields: dict[str, Any] = {f"field_{name}": (wire_result(hint), Field(... if name in required else None, alias=name))
                              for name, hint in hints.items()}
    return create_model(cls.__name__, __config__=ConfigDict(extra="forbid"), __doc__=_description(cls), **fields)


def response_schemas(results: Mapping[K, Any]) -> tuple[dict[K, dict[str, Any]], dict[str, Any]]:
    """JSON schemas of ``results`` (a key → a return annotation): each key's schema, and the named
    schemas they refer to (for ``components/schemas``)."""
    adapters = [(key, "validation", TypeAdapter(wire_result(hint)))
                for key, hint in results.items() if hint is not bytes]
    schemas, definitions = TypeAdapter.json_schemas(
        adapters, ref_template="#/components/schemas/{model}", by_alias=True)  # type: ignore[arg-type]
    found = {key: schema for (key, _), schema in schemas.items()}
    found.update({key: BINARY for key, hint in results.items() if hint is bytes})
    return found, dict(definitions.get("$defs", {}))


def media_type_of(schema: dict[str, Any]) -> str:
    return "application/octet-stream" if schema is BINARY else "application/json"

