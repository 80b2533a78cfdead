"""Reading registry rows into records, in as few queries as possible."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
from sqlalchemy import Connection, func, select

from slipway.core.clock import now_ms
from slipway.core.errors import Conflict, NotFound
from slipway.core.names import split_versioned
from slipway.core.records import dumps, loads
from slipway.registry.records import ModelVersion, RegisteredModel
from slipway.registry.refs import parse_ref
from slipway.store.queries import one_row
from slipway.store.schema.registry import model_aliases, model_versions, registered_models


def to_json(value: Any) -> str:
    """JSON for a text column (NaN and infinities survive, as in the wire format)."""
    return dumps(value).decode()


def from_json(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return loads(text)
    except orjson.JSONDecodeError:
        return default


def model_row(conn: Connection, name: str, lock: bool = False) -> Any:
    """The ``registered_models`` row of ``name``; NotFound otherwise. ``lock`` holds it (PostgreSQL)."""
    return one_row(conn, select(registered_models).where(registered_models.c.name == name),
                   f"registered model {name!r} does not exist", lock=lock)


def aliases_by_model(conn: Connection, model_ids: list[str] | None = None) -> dict[str, dict[str, int]]:
    query = select(model_aliases.c.model_id, model_aliases.c.alias, model_aliases.c.version)
    if model_ids is not None:
        query = query.where(model_aliases.c.model_id.in_(model_ids))
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for model_id, alias, version in conn.execute(query.order_by(model_aliases.c.alias)):
        found[model_id][alias] = version
    return found


def load_models(conn: Connection, rows: list[Any], all_models: bool = False) -> list[RegisteredModel]:
    """Records for ``rows`` of registered_models, with their latest version and aliases."""
    ids = [r.id for r in rows]
    latest_query = select(model_versions.c.model_id, func.max(model_versions.c.version)).group_by(model_versions.c.model_id)
    if not all_models:
        latest_query = latest_query.where(model_versions.c.model_id.in_(ids))
    latest = dict(conn.execute(latest_query).all())
    aliases = aliases_by_model(conn, None if all_models else ids)
    return [
        RegisteredModel(r.name, r.description, r.owner, r.risk_tier, from_json(r.tags, {}), r.created_ms, r.updated_ms,
                        latest.get(r.id), dict(aliases.get(r.id, {})), r.project)
        for r in rows
    ]


def version_record(row: Any, name: str, aliases: dict[str, int]) -> ModelVersion:
    return ModelVersion(
        name, row.version, row.run_id, row.artifact_path, row.bundle_digest, row.flavor,
        from_json(row.signature, {}), from_json(row.metrics, {}), from_json(row.params, {}),
        from_json(row.datasets, []), row.description, from_json(row.tags, {}), row.state,
        sorted(a for a, v in aliases.items() if v == row.version), row.created_by, row.created_ms, row.updated_ms,
    )


def version_row(conn: Connection, model: Any, version: int) -> Any:
    row = conn.execute(select(model_versions).where(
        model_versions.c.model_id == model.id, model_versions.c.version == version)).first()
    if row is None:
        latest = conn.execute(select(func.max(model_versions.c.version)).where(
            model_versions.c.model_id == model.id)).scalar()
        have = f"its latest is {latest}" if latest else "it has no versions yet"
        raise NotFound(f"model {model.name!r} has no version {version}; {have}")
    return row


def load_version(conn: Connection, model: Any, version: int) -> ModelVersion:
    aliases = aliases_by_model(conn, [model.id]).get(model.id, {})
    return version_record(version_row(conn, model, version), model.name, aliases)


def joined_version_row(conn: Connection, model: str, version: int) -> Any:
    """The version row joined with its model's name, owner, risk tier and description (the shape
    governance and deployments read); NotFound naming what is missing."""
    row = conn.execute(
        select(model_versions, registered_models.c.name.label("model_name"), registered_models.c.owner,
               registered_models.c.risk_tier, registered_models.c.description.label("model_description"))
        .join(registered_models, registered_models.c.id == model_versions.c.model_id)
        .where(registered_models.c.name == model, model_versions.c.version == int(version))
    ).first()
    if row is None:
        version_row(conn, model_row(conn, model), int(version))  # raises NotFound naming what is missing
    return row


def resolve_ref(conn: Connection, ref: str) -> tuple[str, int]:
    """The (model name, version number) a reference (any form of :func:`parse_ref`) points at now.

    Raises:
        InvalidInput: a malformed reference. NotFound: no such model, alias or version.
    """
    parsed = parse_ref(ref)
    model = model_row(conn, parsed.name)
    if parsed.version is not None:
        return parsed.name, parsed.version
    if parsed.alias is not None:
        number = conn.execute(select(model_aliases.c.version).where(
            model_aliases.c.model_id == model.id, model_aliases.c.alias == parsed.alias)).scalar()
        if number is None:
            raise NotFound(f"model {parsed.name!r} has no alias {parsed.alias!r}")
        return parsed.name, int(number)
    latest = conn.execute(select(func.max(model_versions.c.version)).where(model_versions.c.model_id == model.id)).scalar()
    if latest is None:
        raise NotFound(f"model {parsed.name!r} has no versions yet")
    return parsed.name, int(latest)


def set_version_state(conn: Connection, version_id: str, current: str, target: str) -> None:
    """Move the version row from ``current`` to ``target`` (governance decides whether it may);
    Conflict if someone else moved it meanwhile."""
    result = conn.execute(
        model_versions.update()
        .where(model_versions.c.id == version_id, model_versions.c.state == current)
        .values(state=target, updated_ms=now_ms())
    )
    if result.rowcount != 1:
        raise Conflict(f"the version changed state while moving it from {current} to {target}; retry")


def version_exists(conn: Connection, model: str, version: int) -> bool:
    query = (select(model_versions.c.id).join(registered_models, registered_models.c.id == model_versions.c.model_id)
             .where(registered_models.c.name == model, model_versions.c.version == version))
    return conn.execute(query.limit(1)).first() is not None


def version_node_exists(conn: Connection, ident: str) -> bool:
    """Whether the lineage node ``name/N`` is a registered version (True when ``ident`` is not of that shape)."""
    parsed = split_versioned(ident, "/")
    return parsed is None or version_exists(conn, *parsed)
