"""Model version references as users type them: ``name/3``, ``name@alias``, ``models:/name@alias``."""

from __future__ import annotations

from sqlalchemy import Connection, select

from slipway.core.errors import InvalidInput, NotFound
from slipway.core.limits import whole_number
from slipway.core.names import check_name
from slipway.store.schema.registry import model_aliases, model_versions, registered_models


def split_ref(ref: str) -> tuple[str, str, str]:
    """Split a reference into (name, kind, value) where kind is ``version`` or ``alias``.

    Raises:
        InvalidInput: the reference has neither ``/VERSION`` nor ``@ALIAS``.
    """
    if not isinstance(ref, str) or not ref:
        raise InvalidInput(f"a model reference must be a non-empty string, got {ref!r}")
    text = ref.removeprefix("models:/")
    if "@" in text:
        name, _, alias = text.partition("@")
        return check_name(name, "model name"), "alias", check_name(alias, "alias")
    name, sep, version = text.rpartition("/")
    if not sep or not whole_number(version):
        raise InvalidInput(f"model reference {ref!r} is malformed: use NAME/VERSION or NAME@ALIAS")
    return check_name(name, "model name"), "version", version


def resolve_version(conn: Connection, ref: str) -> tuple[str, int]:
    """The (model name, version number) a reference points at now."""
    name, kind, value = split_ref(ref)
    if kind == "version":
        return name, int(value)
    row = conn.execute(
        select(model_aliases.c.version)
        .join(registered_models, registered_models.c.id == model_aliases.c.model_id)
        .where(registered_models.c.name == name, model_aliases.c.alias == value)
    ).first()
    if row is None:
        raise NotFound(f"model {name!r} has no alias {value!r}")
    return name, int(row.version)


def version_row(conn: Connection, model: str, version: int) -> object:
    """The joined registered-model and version row; NotFound naming what is missing."""
    row = conn.execute(
        select(
            model_versions, registered_models.c.name.label("model_name"), registered_models.c.owner,
            registered_models.c.risk_tier, registered_models.c.description.label("model_description"),
        )
        .join(registered_models, registered_models.c.id == model_versions.c.model_id)
        .where(registered_models.c.name == model, model_versions.c.version == int(version))
    ).first()
    if row is None:
        exists = conn.execute(select(registered_models.c.id).where(registered_models.c.name == model)).first()
        if exists is None:
            raise NotFound(f"model {model!r} is not registered")
        raise NotFound(f"model {model!r} has no version {version}")
    return row
