"""The registry backend: registered models, versions and aliases, each change one audited transaction.

Every public method is an API endpoint (``POST /api/v1/registry/<method>``): ``registry.write``
for changes, ``read`` for reads. Versions are numbered per model inside the write transaction
(the model row is locked on PostgreSQL; SQLite writers are serialised by ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from slipway.core.auth import endpoint
from slipway.core.clock import now_ms
from slipway.core.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from slipway.core.events import Action, Subject
from slipway.core.ids import new_id
from slipway.core.limits import TAG_VALUE, whole_number
from slipway.core.names import check_key, check_name, check_value
from slipway.core.snapshots import snapshot_digest
from slipway.registry.aliases import (
    check_alias_name,
    move_alias,
    protected_aliases,
    remove_alias,
    require_alias_rights,
)
from slipway.registry.records import ModelVersion, RegisteredModel, ReproduceInfo
from slipway.registry.refs import parse_ref
from slipway.registry.registration import BundleFacts, dataset_ref, read_bundle_facts
from slipway.registry.rows import (
    aliases_by_model,
    from_json,
    joined_version_row,
    load_models,
    load_version,
    model_row,
    to_json,
    version_record,
    version_row,
)
from slipway.store.context import ServiceContext
from slipway.store.edges import add_edge
from slipway.store.projects import (
    DEFAULT_PROJECT,
    ProjectScope,
    model_project,
    owning_project,
    readable,
    ref_project,
    run_project,
    scoped_by,
)
from slipway.store.schema.registry import model_versions, registered_models
from slipway.tracking.facts import run_snapshot

DEFAULT_RISK_TIERS = ("low", "medium", "high")


def _retagged(stored: Any, new_tags: dict[str, str], untag: Sequence[str], changes: dict[str, Any]) -> list[str]:
    """Put the merged tags (``new_tags`` set, ``untag`` removed) in ``changes`` when they differ
    from ``stored``; returns the keys actually removed."""
    current = from_json(stored, {})
    removed = [key for key in dict.fromkeys(untag) if key in current and key not in new_tags]
    if new_tags or removed:
        changes["tags"] = to_json({**{k: v for k, v in current.items() if k not in removed}, **new_tags})
    return removed


def _tags(tags: dict[str, Any] | None) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise InvalidInput(f"tags must be a mapping of key to value, got {type(tags).__name__}")
    return {check_key(k, "tag key"): check_value(v, f"tag {k}", TAG_VALUE) for k, v in tags.items()}


# A project-scoped principal's call is authorised in the project of the model it names (and of
# the run it registers from); the listings show only the models of readable projects.
REGISTRY_SCOPE = ProjectScope(
    {"name": model_project, "ref": ref_project, "run_id": run_project},
    listings=frozenset({"list_models", "search_models"}),
)


class RegistryBackend:
    _projects_of = scoped_by(REGISTRY_SCOPE)

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # -- settings ---------------------------------------------------------------------------
    def risk_tiers(self) -> tuple[str, ...]:
        # [governance] is typed by governance (slipway.governance.settings), which sits above the registry.
        configured: dict[str, int] = self.ctx.settings.domain("governance").risk_tiers
        return tuple(configured) or DEFAULT_RISK_TIERS

    def protected_aliases(self) -> tuple[str, ...]:
        return protected_aliases(self.ctx)

    def _risk_tier(self, tier: str) -> str:
        if tier not in self.risk_tiers():
            raise InvalidInput(f"risk tier {tier!r} is not one of {', '.join(self.risk_tiers())}")
        return tier

    # -- models -----------------------------------------------------------------------------
    def _insert_model(self, conn: Connection, name: str, description: str, owner: str | None, risk_tier: str,
                      tags: dict[str, str], project: str | None = None) -> Any:
        now = now_ms()
        row = {"id": new_id(), "name": name, "description": description, "owner": owner or self.ctx.principal.name,
               "risk_tier": risk_tier, "tags": to_json(tags), "created_ms": now, "updated_ms": now,
               "project": owning_project(conn, project, self.ctx.settings.project)}
        conn.execute(registered_models.insert().values(**row))
        self.ctx.audit(conn, Action.MODEL_CREATE, Subject.REGISTERED_MODEL, name,
                       {"owner": row["owner"], "risk_tier": risk_tier, "tags": tags,
                        **({"project": row["project"]} if row["project"] != DEFAULT_PROJECT else {})})
        return model_row(conn, name)

    @endpoint("registry.write")
    def create_model(self, name: str, description: str = "", owner: str | None = None, risk_tier: str = "low",
                     tags: dict[str, str] | None = None, project: str | None = None) -> RegisteredModel:
        """Create a registered model in ``project`` (default: the workspace's); AlreadyExists if the
        name is taken. The risk tier is a governance input: a tier other than ``low`` needs
        ``governance.configure`` (approver, admin)."""
        check_name(name, "model name")
        checked_tags, tier = _tags(tags), self._risk_tier(risk_tier)
        if tier != "low":
            self.ctx.principal.require("governance.configure", f"set the risk tier of {name!r}")
        if owner is not None:
            check_name(owner, "owner")
        with self.ctx.db.write() as conn:
            if conn.execute(select(registered_models.c.id).where(registered_models.c.name == name)).first():
                raise AlreadyExists(f"registered model {name!r} already exists")
            row = self._insert_model(conn, name, check_value(description, "description"), owner, tier, checked_tags,
                                     project)
            return load_models(conn, [row])[0]

    @endpoint("registry.write", "governance.configure")
    def update_model(self, name: str, description: str | None = None, owner: str | None = None,
                     risk_tier: str | None = None, tags: dict[str, str] | None = None,
                     untag: Sequence[str] = ()) -> RegisteredModel:
        """Change a model's description, owner, risk tier or tags (tags are merged; the keys in
        ``untag`` are removed, those it does not have ignored, as MLflow's delete-tag does). The
        risk tier needs ``governance.configure`` (approver, admin), the rest ``registry.write``; a
        version already up for approval keeps the tier fixed on it by its first request."""
        if risk_tier is not None:
            self.ctx.principal.require("governance.configure", f"change the risk tier of {name!r}")
        if (description, owner, tags) != (None, None, None) or untag or risk_tier is None:
            self.ctx.principal.require("registry.write", f"update model {name!r}")
        changes: dict[str, Any] = {}
        if description is not None:
            changes["description"] = check_value(description, "description")
        if owner is not None:
            changes["owner"] = check_name(owner, "owner")
        if risk_tier is not None:
            changes["risk_tier"] = self._risk_tier(risk_tier)
        new_tags = _tags(tags)
        with self.ctx.db.write() as conn:
            row = model_row(conn, name, lock=True)
            removed = _retagged(row.tags, new_tags, untag, changes)
            if changes:
                conn.execute(registered_models.update().where(registered_models.c.id == row.id)
                             .values(**changes, updated_ms=now_ms()))
                self.ctx.audit(conn, Action.MODEL_UPDATE, Subject.REGISTERED_MODEL, name,
                               {**{k: (new_tags if k == "tags" else v) for k, v in changes.items()},
                                **({"untag": removed} if removed else {})})
            return load_models(conn, [model_row(conn, name)])[0]

    @endpoint("read")
    def get_model(self, name: str) -> RegisteredModel:
        with self.ctx.db.read() as conn:
            return load_models(conn, [model_row(conn, name)])[0]

    @endpoint("read")
    def list_models(self, max_results: int = 100_000) -> list[RegisteredModel]:
        """Every registered model (by name) with its latest version and aliases."""
        with self.ctx.db.read() as conn:
            query = readable(self.ctx.principal, select(registered_models), registered_models.c.project)
            rows = conn.execute(query.order_by(registered_models.c.name).limit(max(1, int(max_results)))).all()
            return load_models(conn, list(rows), all_models=True)

    @endpoint("read")
    def search_models(self, name_like: str | None = None, tags: dict[str, str] | None = None,
                      max_results: int = 1000) -> list[RegisteredModel]:
        """Models whose name matches ``name_like`` (SQL LIKE, ``*`` also works; case-insensitive)
        and that carry every tag in ``tags``."""
        query = readable(self.ctx.principal, select(registered_models), registered_models.c.project)
        query = query.order_by(registered_models.c.name)
        if name_like:
            query = query.where(registered_models.c.name.ilike(str(name_like).replace("*", "%")))
        wanted = _tags(tags)
        with self.ctx.db.read() as conn:
            rows = [r for r in conn.execute(query) if all(from_json(r.tags, {}).get(k) == v for k, v in wanted.items())]
            return load_models(conn, rows[: max(1, int(max_results))])

    # -- versions ---------------------------------------------------------------------------
    @endpoint("registry.write")
    def register_version(self, name: str, run_id: str, artifact_path: str = "model", description: str = "",
                         tags: dict[str, str] | None = None, project: str | None = None) -> ModelVersion:
        """Register the bundle artifact ``artifact_path`` of run ``run_id`` as the next version of ``name``.

        The model is created when missing (in ``project``, default: the workspace's). Registering the same bundle from the same run again
        returns the existing version.

        Raises:
            NotFound: no such run, or no such artifact in it.
            InvalidInput: the artifact is not a model bundle, or has an unknown flavor.
        """
        check_name(name, "model name")
        check_key(artifact_path, "artifact path")
        checked_tags, description = _tags(tags), check_value(description, "description")
        with self.ctx.db.read() as conn:
            facts = read_bundle_facts(conn, self.ctx.blobs, run_id, artifact_path)
        for attempt in range(3):
            try:
                with self.ctx.db.write() as conn:
                    return self._register(conn, name, facts, description, checked_tags, project)
            except SqlIntegrityError as err:
                # Two writers created the same model or version at once (PostgreSQL); retry.
                if attempt == 2:
                    raise Conflict(f"could not register a version of {name!r}: concurrent writers; retry") from err
        raise AssertionError("unreachable")

    def _register(self, conn: Connection, name: str, facts: BundleFacts, description: str,
                  tags: dict[str, str], project: str | None = None) -> ModelVersion:
        try:
            model = model_row(conn, name, lock=True)
        except NotFound:
            model = self._insert_model(conn, name, "", None, DEFAULT_RISK_TIERS[0], {}, project)
        existing = conn.execute(select(model_versions.c.version).where(
            model_versions.c.model_id == model.id, model_versions.c.run_id == facts.run_id,
            model_versions.c.bundle_digest == facts.bundle_digest)).first()
        if existing is not None:
            return load_version(conn, model, existing.version)
        version = (conn.execute(select(func.max(model_versions.c.version))
                                .where(model_versions.c.model_id == model.id)).scalar() or 0) + 1
        metrics, params, datasets = run_snapshot(conn, facts.run_id)
        now = now_ms()
        snapshot = {"signature": to_json(facts.signature), "metrics": to_json(metrics), "params": to_json(params),
                    "datasets": to_json(datasets)}
        conn.execute(model_versions.insert().values(
            id=new_id(), model_id=model.id, version=version, run_id=facts.run_id, artifact_path=facts.artifact_path,
            bundle_digest=facts.bundle_digest, flavor=facts.flavor, **snapshot, description=description,
            tags=to_json(tags), state="registered", created_by=self.ctx.principal.name, created_ms=now, updated_ms=now,
        ))
        conn.execute(registered_models.update().where(registered_models.c.id == model.id).values(updated_ms=now))
        ref = f"{name}/{version}"
        add_edge(conn, "run", facts.run_id, "produced", "model_version", ref, {"artifact_path": facts.artifact_path})
        for item in datasets:
            add_edge(conn, "dataset_version", dataset_ref(item), "trained", "model_version", ref,
                     {"context": item["context"]})
        # The values audit verify replays the row against: the bundle, the metrics, and a digest
        # of the whole snapshot exactly as stored.
        self.ctx.audit(conn, Action.VERSION_REGISTER, Subject.MODEL_VERSION, ref,
                       {"run_id": facts.run_id, "bundle_digest": facts.bundle_digest, "flavor": facts.flavor,
                        "datasets": [dataset_ref(d) for d in datasets], "metrics": metrics,
                        "snapshot_digest": snapshot_digest(**snapshot)})
        return load_version(conn, model, version)

    @endpoint("registry.write")
    def update_version(self, name: str, version: int, description: str | None = None,
                       tags: dict[str, str] | None = None, untag: Sequence[str] = ()) -> ModelVersion:
        """Change a version's description or tags (tags are merged; ``untag`` as in :meth:`update_model`)."""
        new_tags = _tags(tags)
        with self.ctx.db.write() as conn:
            model = model_row(conn, name)
            row = version_row(conn, model, _version_number(version))
            changes: dict[str, Any] = {}
            if description is not None:
                changes["description"] = check_value(description, "description")
            removed = _retagged(row.tags, new_tags, untag, changes)
            if changes:
                conn.execute(model_versions.update().where(model_versions.c.id == row.id)
                             .values(**changes, updated_ms=now_ms()))
                self.ctx.audit(conn, Action.VERSION_UPDATE, Subject.MODEL_VERSION, f"{name}/{row.version}",
                               {"description": description, "tags": new_tags, **({"untag": removed} if removed else {})})
            return load_version(conn, model, row.version)

    @endpoint("read")
    def get_version(self, name: str, version: int) -> ModelVersion:
        with self.ctx.db.read() as conn:
            return load_version(conn, model_row(conn, name), _version_number(version))

    @endpoint("read")
    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, newest first."""
        with self.ctx.db.read() as conn:
            model = model_row(conn, name)
            aliases = aliases_by_model(conn, [model.id]).get(model.id, {})
            rows = conn.execute(select(model_versions).where(model_versions.c.model_id == model.id)
                                .order_by(model_versions.c.version.desc()))
            return [version_record(r, name, aliases) for r in rows]

    @endpoint("read")
    def resolve(self, ref: str) -> ModelVersion:
        """The version a reference points at (``name@alias``, ``name/3``, ``name/latest``, ``models:/…``)."""
        parsed = parse_ref(ref)
        with self.ctx.db.read() as conn:
            model = model_row(conn, parsed.name)
            if parsed.alias is not None:
                aliases = aliases_by_model(conn, [model.id]).get(model.id, {})
                if parsed.alias not in aliases:
                    raise NotFound(f"model {parsed.name!r} has no alias {parsed.alias!r}; its aliases are {sorted(aliases)}")
                return load_version(conn, model, aliases[parsed.alias])
            if parsed.latest:
                latest = conn.execute(select(func.max(model_versions.c.version))
                                      .where(model_versions.c.model_id == model.id)).scalar()
                if latest is None:
                    raise NotFound(f"model {parsed.name!r} has no versions yet")
                return load_version(conn, model, latest)
            assert parsed.version is not None
            return load_version(conn, model, parsed.version)

    # -- aliases ----------------------------------------------------------------------------
    @endpoint("registry.write")
    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        """Point ``alias`` at ``version`` (moving it if set). Protected aliases (settings
        ``governance.protected_aliases``, default champion and production) need the
        ``alias.protected`` permission and may only point at an approved or deployed version;
        otherwise Conflict says which state the version is in."""
        check_alias_name(alias)
        number = _version_number(version)
        require_alias_rights(self.ctx, alias)
        with self.ctx.db.write() as conn:
            model = model_row(conn, name, lock=True)
            move_alias(self.ctx, conn, joined_version_row(conn, name, number), alias)
            return load_version(conn, model, number)

    @endpoint("registry.write")
    def delete_alias(self, name: str, alias: str) -> None:
        """Remove ``alias`` from ``name``; NotFound if it is not set."""
        require_alias_rights(self.ctx, alias, "remove")
        with self.ctx.db.write() as conn:
            model = model_row(conn, name, lock=True)
            remove_alias(self.ctx, conn, model.id, name, alias)

    # -- reproduce --------------------------------------------------------------------------
    @endpoint("read")
    def reproduce_info(self, ref: str) -> ReproduceInfo:
        """Code, environment, parameters and data behind a version (see ``slipway models reproduce``)."""
        from slipway.registry.reproduce import reproduce_info

        version = self.resolve(ref)
        with self.ctx.db.read() as conn:
            return reproduce_info(conn, self.ctx.blobs, version)


def _version_number(version: Any) -> int:
    if isinstance(version, str) and whole_number(version) is not None:
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInput(f"a model version is a whole number from 1, got {version!r}")
    return version
