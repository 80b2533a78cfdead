"""Request models of the platform API, derived from each endpoint's signature.

Every ``@endpoint`` method takes typed arguments; :func:`request_model` turns its type hints into a
pydantic model (strict types, the limits of :mod:`slipway.core.limits` as ``maxLength`` and
``maxItems``, integers within 64 bits, finite JSON numbers, no unknown fields), so a malformed
call is a 422 naming the field and the OpenAPI document shows what each endpoint takes.

Records (``@record`` dataclasses) are accepted only where the signature expects one: an object
with that record's fields (and optionally ``"$r": "<RecordName>"``, which the Python client
sends), never a record of another type chosen by the caller. Non-finite floats travel as
``{"$f": "NaN" | "Infinity" | "-Infinity"}`` (JSON has no literal for them).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
)

from slipway.core.errors import InvalidInput
from slipway.core.limits import INT_MAX, INT_MIN, MAX_DEPTH, ArgumentLimits, limits_for

_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
# Parsing JSON costs memory per value (~60 bytes each), not per byte: a body of "1,1,1,…" within the
# byte limit would take gigabytes. Commas bound a body's values (every list or map of n items has
# n - 1); the largest real calls (20,000 metric points of log_batch) have about 100,000.
MAX_BODY_VALUES = 1_000_000


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text may not contain a NUL character")
    return value


def _wire_float(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1 and value.get("$f") in _FLOATS:
        return _FLOATS[value["$f"]]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("number is beyond the range of a 64-bit float")
    return value


def _plain_json(value: Any, depth: int = 0) -> Any:
    """A JSON value for an argument typed ``Any``: non-finite float tags decoded, depth bounded."""
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise ValueError(f"value is nested more than {MAX_DEPTH} levels deep")
        if len(value) == 1 and value.get("$f") in _FLOATS:
            return _FLOATS[value["$f"]]
        return {key: _plain_json(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        if depth >= MAX_DEPTH:
            raise ValueError(f"value is nested more than {MAX_DEPTH} levels deep")
        return [_plain_json(item, depth + 1) for item in value]
    return value


JsonValue = Annotated[Any, AfterValidator(_plain_json)]


def _text(limit: int) -> Any:
    return Annotated[str, Field(strict=True, max_length=limit), AfterValidator(_no_nul)]


def wire_type(hint: Any, limits: ArgumentLimits) -> Any:
    """The pydantic annotation for a parameter typed ``hint`` with ``limits``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any or hint is object:
        return JsonValue
    if origin is Annotated:
        return wire_type(args[0], limits)
    if origin is Union or origin is types.UnionType:
        return Union[tuple(wire_type(arg, limits) for arg in args)]  # noqa: UP007 - built at run time
    if hint is type(None):
        return None
    if hint is str:
        return _text(limits.text)
    if hint is bool:
        return Annotated[bool, Field(strict=True)]
    if hint is int:
        low = INT_MIN if limits.low is None else max(INT_MIN, math.ceil(limits.low))
        high = INT_MAX if limits.high is None else min(INT_MAX, math.floor(limits.high))
        return Annotated[int, Field(strict=True, ge=low, le=high)]
    if hint is float:
        return Annotated[float, BeforeValidator(_wire_float), Field(strict=True, ge=limits.low, le=limits.high)]
    if origin is tuple and args and args[-1] is not Ellipsis:
        return Annotated[tuple[tuple(wire_type(arg, limits) for arg in args)], Field(strict=True)]  # type: ignore[misc]
    if origin in (list, tuple, set, frozenset, Sequence):
        if not args or args[0] is Any:  # one walk of the list, not a validator call per item
            return Annotated[list[Any], Field(max_length=limits.items), AfterValidator(_plain_json)]
        item = wire_type(args[0], limits)
        return Annotated[list[item], Field(max_length=limits.items)]  # type: ignore[valid-type]
    if origin in (dict, Mapping):
        key = _text(limits.key)
        value = wire_type(args[1], limits) if len(args) == 2 else JsonValue
        return Annotated[dict[key, value], Field(max_length=limits.items)]  # type: ignore[valid-type]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return record_type(hint, limits)
    return JsonValue


@functools.cache
def record_type(cls: type, limits: ArgumentLimits) -> Any:
    """A record (``@record`` dataclass) as a request value: its fields, strictly typed."""
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except NameError:
        hints = {}
    fields: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        default: Any = ...
        if field.default is not dataclasses.MISSING:
            default = field.default
        fields[field.name] = (wire_type(hints.get(field.name, Any), limits), default)
    fields["wire_tag"] = (Literal[cls.__name__] | None, Field(None, alias="$r"))
    # "Argument": the record as a caller sends it; "<Name>" alone is the record as answered.
    model = create_model(cls.__name__ + "Argument" + _suffix(limits), __config__=ConfigDict(extra="forbid"), **fields)
    tuples = {f.name for f in dataclasses.fields(cls) if "tuple" in str(f.type)}

    def build(value: BaseModel) -> Any:
        values = {name: getattr(value, name) for name in type(value).model_fields if name != "wire_tag"}
        return cls(**{k: tuple(v) if k in tuples and isinstance(v, list) else v for k, v in values.items()})

    return Annotated[model, AfterValidator(build)]


def _suffix(limits: ArgumentLimits) -> str:
    return "" if limits == limits_for("") else f"_{limits.text}_{limits.items}"


class RequestModel:
    """The request of one endpoint: a pydantic model of its arguments and a parser for bodies."""

    def __init__(self, name: str, method: Callable[..., Any]) -> None:
        try:
            hints = typing.get_type_hints(method, include_extras=True)
        except NameError:  # a hint imported only for type checkers: those arguments take any JSON
            hints = {}
        fields: dict[str, Any] = {}
        for index, (param, spec) in enumerate(inspect.signature(method).parameters.items()):
            if index == 0:
                continue
            default = ... if spec.default is spec.empty else _json_default(spec.default)
            # Fields are named by alias, so an argument may be called "schema" or "json".
            fields[f"arg_{param}"] = (wire_type(hints.get(param, Any), limits_for(param)),
                                      Field(default, alias=param))
        title = "".join(part.title() for part in name.replace(".", "_").split("_")) + "Request"
        self.name = name
        self.method = method
        self.model: type[BaseModel] = create_model(title, __config__=ConfigDict(extra="forbid"), **fields)

    def parse(self, body: bytes) -> dict[str, Any]:
        """The arguments in a JSON request body, as the Python values the method takes.

        Raises:
            InvalidInput: the body is not JSON, not an object, or a field is missing, unknown, of
                the wrong type or beyond its limits (the message names the fields).
        """
        check_value_count(self.name, body)
        try:
            parsed = self.model.model_validate_json(body or b"{}")
        except ValidationError as err:
            raise InvalidInput(f"{self.name}: {describe(err)}") from None
        return {name[4:]: getattr(parsed, name) for name in parsed.model_fields_set}


def check_value_count(name: str, body: bytes) -> None:
    """Refuse a body with more JSON values than :data:`MAX_BODY_VALUES`, before it is parsed.

    Raises:
        InvalidInput: the body has more commas than that (counted in texts too: a cheap upper bound).
    """
    if body.count(b",") >= MAX_BODY_VALUES:
        raise InvalidInput(f"{name}: the body holds more than {MAX_BODY_VALUES:,} JSON values; "
                           "send fewer items per call")


def describe(error: ValidationError) -> str:
    """The problems of a validation error, each with the field it is about (never the value)."""
    problems = []
    # What is wrong with a field sent says more than a field not sent, so those come first.
    items = sorted(error.errors(include_input=False, include_url=False), key=lambda e: e["type"] == "missing")
    for item in items[:8]:
        where = ".".join(str(part) for part in item["loc"]) or "body"
        problems.append(f"{where}: {item['msg']}")
    more = error.error_count() - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


def _json_default(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
