"""Model references: ``name@alias``, ``name/3``, ``name/latest`` and the same after ``models:/``."""

from __future__ import annotations

import dataclasses

from slipway.core.errors import InvalidInput
from slipway.core.limits import whole_number
from slipway.core.names import check_name

FORMS = "name@alias, name/3, name/latest, models:/name@alias or models:/name/3"


@dataclasses.dataclass(frozen=True)
class ModelRef:
    """A parsed reference: exactly one of ``version``, ``alias`` or ``latest`` is set."""

    name: str
    version: int | None = None
    alias: str | None = None
    latest: bool = False

    def __str__(self) -> str:
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return f"{self.name}/{'latest' if self.latest else self.version}"


def parse_ref(ref: str) -> ModelRef:
    """Parse a model reference; InvalidInput naming the accepted forms when it is malformed."""
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput(f"a model reference must be a non-empty string, got {ref!r}; use {FORMS}")
    text = ref.strip().removeprefix("models:/")
    if "@" in text:
        name, _, alias = text.partition("@")
        return ModelRef(_name(name, ref), alias=check_name(alias, f"alias in {ref!r}"))
    name, slash, version = text.rpartition("/")
    if not slash:
        raise InvalidInput(f"model reference {ref!r} names no version or alias; use {FORMS}")
    if version == "latest":
        return ModelRef(_name(name, ref), latest=True)
    if not whole_number(version):
        raise InvalidInput(f"model reference {ref!r} has version {version!r}; versions are whole numbers from 1")
    return ModelRef(_name(name, ref), version=int(version))


def _name(name: str, ref: str) -> str:
    return check_name(name, f"model name in {ref!r}")
