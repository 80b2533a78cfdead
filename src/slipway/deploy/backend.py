"""The deployment backend: specs, variants, canary decisions, history, payload-log index, feedback.

Each public method is an API endpoint (embedded, or ``POST /api/v1/deploy/<method>`` remote).
Servers report per-variant counters with :meth:`DeployBackend.record_stats`; :meth:`canary_tick`
reads them and applies the rule in :mod:`slipway.deploy.canary` in one write transaction, so two
controllers never both act on the same step (the second sees the new revision and waits).

The controller reads time from ``DeployBackend.clock`` (milliseconds since the epoch; the wall
clock by default): a test replaces it on the workspace's backend (``ws.serving._backend.clock``)
to step through ``canary.min_seconds`` without waiting for them.

Controllers run as replicas (one per inference server, several servers): each takes the
deployment's ``canary:<name>`` lease with :meth:`DeployBackend.controller_lease` and ticks only
while it holds it, passing its fencing token to :meth:`DeployBackend.canary_tick`, which refuses
(``LeaseLost``, nothing changed) a tick whose token another replica's take-over made stale. The
decision's history entry and audit event name the lease holder and token that made it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import Connection, select

from slipway.core.auth import endpoint
from slipway.core.clock import now_ms
from slipway.core.errors import Conflict, InvalidInput, PermissionDenied
from slipway.core.events import Action, Subject
from slipway.core.ids import new_id
from slipway.deploy import transitions
from slipway.deploy.canary import decide
from slipway.deploy.links import (
    PromotionBlocked,
    promote_version,
    record_blocked_check,
    require_production_ready,
    require_promotion_rights,
    resolve_variant,
)
from slipway.deploy.records import Deployment, DeploymentStatus, HistoryEntry, PayloadSegment
from slipway.deploy.rows import (
    add_history,
    bump,
    deployment_row,
    history_entries,
    load_deployment,
    merged_counters,
    write_variants,
)
from slipway.deploy.spec import canary_weight_plan, parse_spec
from slipway.deploy.stats import VariantCounters
from slipway.store import leases
from slipway.store.context import ServiceContext
from slipway.store.edges import add_edge
from slipway.store.leases import Lease
from slipway.store.projects import (
    DEFAULT_PROJECT,
    ProjectScope,
    deployment_project,
    model_project,
    owning_project,
    readable,
    ref_project,
    scoped_by,
)
from slipway.store.schema.deploy import deployment_stats, deployments, inference_feedback, payload_segments
from slipway.store.upsert import upsert


def controller_lease_name(deployment: str) -> str:
    """The lease the canary controller replicas of ``deployment`` compete for."""
    return f"canary:{deployment}"


def _stable_project(conn: Connection, variants: list[dict[str, Any]]) -> str:
    """A new deployment without ``project`` belongs to its (first) stable model's project."""
    stable = next((v for v in variants if v["role"] == "stable"), variants[0])
    return next(iter(model_project(conn, stable["model"])), DEFAULT_PROJECT)


def _spec_projects(conn: Connection, arguments: dict[str, Any]) -> set[str]:
    """The projects an ``apply`` spec touches (the deployment's, its models', the one it names) or
    a payload segment's deployment's."""
    spec = arguments.get("spec") or arguments.get("segment")
    if not isinstance(spec, dict):
        return set()
    found = deployment_project(conn, spec.get("name") or spec.get("deployment"))
    variants: list[Any] = spec["variants"] if isinstance(spec.get("variants"), list) else []
    found |= ref_project(conn, [v.get("model") for v in variants if isinstance(v, dict)])
    if isinstance(spec.get("project"), str):
        found.add(spec["project"])
    return found


# A project-scoped principal's call is authorised in the deployment's project (and, for apply,
# in the projects of the models it serves); the listing shows readable deployments only.
DEPLOY_SCOPE = ProjectScope({"name": deployment_project, "deployment": deployment_project},
                            listings=frozenset({"list_deployments"}), extra=_spec_projects)


class DeployBackend:
    _projects_of = scoped_by(DEPLOY_SCOPE)

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.clock: Callable[[], int] = now_ms

    @endpoint("deploy")
    def apply(self, spec: dict[str, Any]) -> Deployment:
        """Create or update a deployment from its spec. Aliases are pinned to versions now; stable
        and canary variants must be approved or deployed (Conflict otherwise); nothing changes on error."""
        parsed = parse_spec(spec)
        name = parsed["name"]
        with self.ctx.db.write() as conn:
            variants = []
            for v in parsed["variants"]:
                model, version, state = resolve_variant(conn, v["model"])
                require_production_ready(v["name"], v["role"], model, version, state)
                variants.append({**v, "ref": v["model"], "model": model, "version": version})
            has_canary = any(v["role"] == "canary" for v in variants)
            if has_canary and parsed["canary"]["auto"]:
                weights = canary_weight_plan(parsed, 0)
                for v in variants:
                    v["weight"] = weights.get(v["name"], v["weight"])
            existing = conn.execute(select(deployments).where(deployments.c.name == name)).first()
            now = self.clock()
            status = "canary" if has_canary else "stable"
            if existing is None:
                deployment_id, revision = new_id(), 1
                project = owning_project(conn, parsed.get("project") or _stable_project(conn, variants))
                conn.execute(deployments.insert().values(
                    id=deployment_id, name=name, spec=orjson.dumps(parsed).decode(), revision=1, status=status,
                    canary_step=0, step_started_ms=now, created_ms=now, updated_ms=now, project=project))
            else:
                deployment_id, revision = existing.id, int(existing.revision) + 1
                conn.execute(deployments.update().where(deployments.c.id == deployment_id).values(
                    spec=orjson.dumps(parsed).decode(), revision=revision, status=status, canary_step=0,
                    step_started_ms=now, updated_ms=now))
            write_variants(conn, deployment_id, variants)
            details = {"variants": [{k: v[k] for k in ("name", "role", "model", "version", "weight")}
                                    for v in variants]}
            add_history(conn, deployment_id, revision, "apply", self.ctx.principal.name, details)
            self.ctx.audit(conn, Action.DEPLOYMENT_APPLY, Subject.DEPLOYMENT, name, details)
            for v in variants:
                add_edge(conn, "model_version", f"{v['model']}/{v['version']}", "deployed_to", "deployment", name,
                         {"role": v["role"], "variant": v["name"]})
            return load_deployment(conn, deployment_row(conn, name))

    @endpoint("read")
    def get(self, name: str) -> Deployment:
        with self.ctx.db.read() as conn:
            return load_deployment(conn, deployment_row(conn, name))

    @endpoint("read")
    def list_deployments(self) -> list[Deployment]:
        """The live deployments (a deleted one is left out; :meth:`get` still reads it)."""
        with self.ctx.db.read() as conn:
            query = readable(self.ctx.principal, select(deployments), deployments.c.project)
            return [load_deployment(conn, r) for r in conn.execute(
                query.where(deployments.c.status != "deleted").order_by(deployments.c.name))]

    @endpoint("deploy")
    def delete(self, name: str, reason: str = "deleted") -> Deployment:
        """Take a deployment out of service: no variants, status ``deleted``, a new revision.

        Its history, payload log and feedback stay (they are evidence), so :meth:`get` and
        :meth:`history` still read it; applying a spec of the same name brings it back as a new
        revision. Deleting a deleted deployment changes nothing.

        Raises:
            NotFound: no deployment of that name.
        """
        with self.ctx.db.write() as conn:
            row = deployment_row(conn, name, lock=True)
            if row.status != "deleted":
                revision = bump(conn, row, status="deleted", canary_step=0)
                write_variants(conn, row.id, [])
                details = {"revision": revision, "reason": str(reason)}
                add_history(conn, row.id, revision, "delete", self.ctx.principal.name, details)
                self.ctx.audit(conn, Action.DEPLOYMENT_DELETE, Subject.DEPLOYMENT, name, details)
            return load_deployment(conn, deployment_row(conn, name))

    @endpoint("read")
    def status(self, name: str) -> DeploymentStatus:
        """The deployment with each variant's measurements for the current revision."""
        with self.ctx.db.read() as conn:
            row = deployment_row(conn, name)
            deployment = load_deployment(conn, row)
            quantile = float(deployment.spec.get("slo", {}).get("latency_quantile", 0.99))
            counters = merged_counters(conn, row.id, int(row.revision))
            decisions = [h for h in history_entries(conn, row.id, 20) if h.action.startswith(("canary", "promote",
                                                                                                  "rollback"))]
        summaries = {v.name: counters.get(v.name, VariantCounters()).summary(quantile) for v in deployment.variants}
        last = None if not decisions else {"action": decisions[0].action, **decisions[0].details}
        return DeploymentStatus(deployment, summaries, last)

    @endpoint("read")
    def history(self, name: str, limit: int = 100) -> list[HistoryEntry]:
        with self.ctx.db.read() as conn:
            return history_entries(conn, deployment_row(conn, name).id, int(limit))

    @endpoint("deploy")
    def promote(self, name: str, reason: str = "manual promotion") -> Deployment:
        """Make the canary the stable variant at 100%, mark its version deployed and move the
        deployment's alias, in one transaction.

        Raises:
            Conflict: no canary, or the canary's version may not be deployed under its policy
                (nothing changes; the failed check is recorded).
            PermissionDenied: the alias is protected and the caller lacks ``alias.protected``.
        """
        try:
            self._promote(name, {"reason": reason})
        except PromotionBlocked as blocked:
            raise Conflict(record_blocked_check(self.ctx, blocked)) from None
        return self.get(name)

    def _promote(self, name: str, details: dict[str, Any]) -> None:
        with self.ctx.db.read() as conn:
            alias = orjson.loads(deployment_row(conn, name).spec).get("canary", {}).get("alias")
        require_promotion_rights(self.ctx, alias)
        with self.ctx.db.write() as conn:
            row = deployment_row(conn, name, lock=True)
            canary = transitions.canary_variant(row, conn)
            registry = promote_version(self.ctx, conn, canary["model"], canary["version"], alias,
                                       f"promoted in deployment {name}")
            transitions.promote(self.ctx, conn, row, {**details, **registry})

    @endpoint("deploy")
    def rollback(self, name: str, reason: str = "manual rollback") -> Deployment:
        """Send all production traffic back to the stable variants and drop the canary."""
        with self.ctx.db.write() as conn:
            transitions.rollback(self.ctx, conn, deployment_row(conn, name, lock=True), {"reason": reason})
        return self.get(name)

    @endpoint("deploy")
    def controller_lease(self, name: str, holder: str, ttl_s: float = 30.0, now: int | None = None) -> Lease | None:
        """Take or renew the lease on controlling deployment ``name``'s canary for ``holder`` (one
        controller replica acts, the others stand by); ``None`` while another replica's lease runs.
        ``now`` is the caller's clock (ms). Not audited: the decisions it leads to are, with its token.

        Raises:
            InvalidInput: an empty holder or a ttl outside 0.1 s … 1 h.
        """
        with self.ctx.db.write() as conn:
            return leases.take(conn, controller_lease_name(name), holder, int(ttl_s * 1000), now)

    @endpoint("deploy")
    def release_controller_lease(self, name: str, holder: str, token: int) -> bool:
        """Give up ``holder``'s lease on deployment ``name``'s canary so a standby takes over at once."""
        with self.ctx.db.write() as conn:
            return leases.release(conn, controller_lease_name(name), holder, token)

    @endpoint("deploy")
    def canary_tick(self, name: str, lease_token: int | None = None) -> dict[str, Any]:
        """Evaluate the canary once and act on the decision; returns ``{"action", "reason", ...numbers}``.

        With ``lease_token`` (a controller replica's, from :meth:`controller_lease`) the tick acts
        only if that token is still current, checked in the deciding transaction.

        A promotion that governance refuses (the policy blocks ``deployed``, or the caller may not
        move a protected alias) changes nothing: the action is ``blocked``, recorded and audited.

        Raises:
            LeaseLost: ``lease_token`` is stale (another controller replica took over); nothing changed.
        """
        with self.ctx.db.read() as conn:
            alias = orjson.loads(deployment_row(conn, name).spec).get("canary", {}).get("alias")
        try:
            require_promotion_rights(self.ctx, alias)
            no_rights = None
        except PermissionDenied as err:
            no_rights = err.message
        try:
            with self.ctx.db.write() as conn:
                lease = None if lease_token is None else {
                    "holder": leases.check_fence(conn, controller_lease_name(name), lease_token), "token": lease_token}
                row = deployment_row(conn, name, lock=True)
                spec = orjson.loads(row.spec)
                variants = load_deployment(conn, row).variants
                canary = next((v for v in variants if v.role == "canary"), None)
                if canary is None or not spec["canary"].get("auto", True):
                    return {"action": "none", "reason": "no automated canary in this deployment"}
                counters = merged_counters(conn, row.id, int(row.revision))
                stable = VariantCounters()
                for v in variants:
                    if v.role == "stable" and v.name in counters:
                        stable = stable.merge(counters[v.name])
                now = self.clock()
                elapsed = (now - int(row.step_started_ms)) / 1000.0
                decision = decide(stable, counters.get(canary.name, VariantCounters()), spec["slo"],
                                  spec["canary"], int(row.canary_step), elapsed)
                details = {"reason": decision.reason, "numbers": decision.numbers, "automated": True}
                if lease is not None:
                    details["lease"] = lease
                if decision.action == "advance":
                    transitions.advance(self.ctx, conn, row, details, now)
                elif decision.action == "rollback":
                    transitions.rollback(self.ctx, conn, row, details, now)
                elif decision.action == "promote":
                    if no_rights is not None:
                        raise PermissionDenied(no_rights)
                    registry = promote_version(self.ctx, conn, canary.model, canary.version, alias,
                                               f"promoted in deployment {name}")
                    transitions.promote(self.ctx, conn, row, {**details, **registry}, now)
        except (PromotionBlocked, PermissionDenied) as err:
            why = record_blocked_check(self.ctx, err) if isinstance(err, PromotionBlocked) else err.message
            details = {**details, "blocked": why}
            with self.ctx.db.write() as conn:
                row = deployment_row(conn, name)
                add_history(conn, row.id, int(row.revision), "promote.blocked", self.ctx.principal.name, details)
                self.ctx.audit(conn, Action.DEPLOYMENT_PROMOTE_BLOCKED, Subject.DEPLOYMENT, name, details)
            return {"action": "blocked", **details}
        return {"action": decision.action, **details}

    @endpoint("deploy")
    def record_stats(self, name: str, revision: int, worker: str, counters: dict[str, dict[str, Any]]) -> None:
        """Store one server worker's cumulative counters per variant for ``revision`` (telemetry, not audited)."""
        if not isinstance(counters, dict):
            raise InvalidInput("counters must be an object of variant -> counters")
        with self.ctx.db.write() as conn:
            row = deployment_row(conn, name)
            rows = [{"deployment_id": row.id, "revision": int(revision), "variant": variant, "worker": str(worker)[:100],
                     "counters": orjson.dumps(VariantCounters.from_dict(c).to_dict()).decode(), "updated_ms": now_ms()}
                    for variant, c in counters.items()]
            if rows:
                upsert(conn, deployment_stats, rows, ["deployment_id", "revision", "variant", "worker"],
                       ["counters", "updated_ms"])

    @endpoint("deploy")
    def record_payload_segment(self, segment: dict[str, Any]) -> PayloadSegment:
        """Index a payload-log Parquet segment the server wrote to the artifact store."""
        digest = segment.get("digest")
        if not isinstance(digest, str) or not self.ctx.blobs.exists(digest):
            raise InvalidInput(f"payload segment blob {digest!r} is not in the artifact store")
        record = PayloadSegment(new_id(), str(segment["deployment"]), digest, int(segment["rows"]),
                                int(segment["requests"]), int(segment["first_ms"]), int(segment["last_ms"]),
                                [str(c) for c in segment["columns"]])
        with self.ctx.db.write() as conn:
            conn.execute(payload_segments.insert().values(
                id=record.id, deployment=record.deployment, digest=digest, rows=record.rows, requests=record.requests,
                first_ms=record.first_ms, last_ms=record.last_ms, columns=orjson.dumps(record.columns).decode(),
                created_ms=now_ms()))
            self.ctx.audit(conn, Action.DEPLOYMENT_PAYLOAD_SEGMENT, Subject.DEPLOYMENT, record.deployment,
                           {"digest": digest, "rows": record.rows})
        return record

    @endpoint("deploy")
    def record_worker_restart(self, deployment: str, pid: int | None = None, exitcode: int | None = None,
                              restarts: int = 1) -> dict[str, Any]:
        """Record that the inference server's supervisor replaced a dead worker (audited as
        ``deployment.worker_restart``; the diagnosis counts them in its window)."""
        if not isinstance(deployment, str) or not deployment:
            raise InvalidInput(f"worker restart needs a deployment name, not {deployment!r}")
        details = {"pid": pid, "exitcode": exitcode, "restarts": int(restarts)}
        with self.ctx.db.write() as conn:
            self.ctx.audit(conn, Action.DEPLOYMENT_WORKER_RESTART, Subject.DEPLOYMENT, deployment, details)
        return details

    @endpoint("read")
    def worker_restarts(self, deployment: str, since_ms: int = 0) -> int:
        """How many worker restarts the inference server recorded for ``deployment`` since
        ``since_ms`` (the ``deployment.worker_restart`` events; a count, so ``read`` suffices)."""
        from sqlalchemy import func

        from slipway.store.schema.core import audit_events

        with self.ctx.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_events).where(
                audit_events.c.action == Action.DEPLOYMENT_WORKER_RESTART.value,
                audit_events.c.subject_kind == Subject.DEPLOYMENT.value, audit_events.c.subject_id == deployment,
                audit_events.c.ts >= int(since_ms))).scalar_one())

    @endpoint("read")
    def payload_segments(self, name: str, since_ms: int = 0) -> list[PayloadSegment]:
        with self.ctx.db.read() as conn:
            rows = conn.execute(select(payload_segments).where(payload_segments.c.deployment == name,
                                                               payload_segments.c.last_ms >= int(since_ms))
                                .order_by(payload_segments.c.first_ms, payload_segments.c.id))
            return [PayloadSegment(r.id, r.deployment, r.digest, r.rows, r.requests, r.first_ms, r.last_ms,
                                   orjson.loads(r.columns)) for r in rows]

    @endpoint("deploy")
    def add_feedback(self, deployment: str, items: list[dict[str, Any]]) -> int:
        """Attach late ground-truth labels by request id (a repeat replaces the label); returns the count."""
        if not isinstance(items, list) or not items:
            raise InvalidInput("feedback must be a non-empty list of {request_id, label}")
        rows = []
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("request_id"), str) or not item["request_id"]:
                raise InvalidInput(f"feedback[{index}] needs a string request_id")
            if "label" not in item:
                raise InvalidInput(f"feedback[{index}] (request {item['request_id']!r}) has no label")
            rows.append({"request_id": item["request_id"][:100], "deployment": deployment,
                         "label": orjson.dumps(item["label"]).decode(), "created_ms": now_ms()})
        with self.ctx.db.write() as conn:
            upsert(conn, inference_feedback, rows, ["request_id"], ["label", "created_ms", "deployment"])
            self.ctx.audit(conn, Action.DEPLOYMENT_FEEDBACK, Subject.DEPLOYMENT, deployment, {"labels": len(rows)})
        return len(rows)

    @endpoint("read")
    def feedback(self, deployment: str) -> dict[str, Any]:
        """Every label attached to the deployment's requests, by request id."""
        with self.ctx.db.read() as conn:
            rows = conn.execute(select(inference_feedback.c.request_id, inference_feedback.c.label)
                                .where(inference_feedback.c.deployment == deployment))
            return {r.request_id: orjson.loads(r.label) for r in rows}
