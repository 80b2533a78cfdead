"""Governance endpoints for the version lifecycle: status, transitions, checks, policies, promotion."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, func, select

from slipway.core.auth import endpoint
from slipway.core.clock import now_ms
from slipway.core.errors import Conflict, InvalidInput, NotFound
from slipway.core.events import Action, Subject, WebhookEvent
from slipway.core.ids import new_id
from slipway.core.names import check_name
from slipway.governance.approvals import open_request_id
from slipway.governance.checks import current_policy, policy_digest, verify_stored_check
from slipway.governance.gate import gated_write, record_check
from slipway.governance.lifecycle import ALLOWED, CHECKED_STATES, PERMISSION_FOR, require_allowed, set_state
from slipway.governance.policy import parse_policy
from slipway.governance.records import CheckResult, PolicyInfo, VersionStatus
from slipway.governance.refs import resolve_version, version_row
from slipway.registry.aliases import SERVABLE_STATES, check_alias_name, move_alias, require_alias_rights
from slipway.registry.rows import aliases_by_model, model_row
from slipway.store.context import ServiceContext
from slipway.store.schema.governance import policies, policy_checks
from slipway.webhooks.outbox import emit


class LifecycleEndpoints:
    ctx: ServiceContext

    def _resolve(self, ref: str) -> tuple[str, int]:
        with self.ctx.db.read() as conn:
            return resolve_version(conn, ref)

    @endpoint("read")
    def status(self, ref: str) -> VersionStatus:
        """The version's state, the states it may move to, its aliases, open request and last check."""
        with self.ctx.db.read() as conn:
            model, number = resolve_version(conn, ref)
            row: Any = version_row(conn, model, number)
            aliases = [a for a, v in aliases_by_model(conn, [row.model_id]).get(row.model_id, {}).items() if v == number]
            check = conn.execute(select(policy_checks).where(policy_checks.c.model == model, policy_checks.c.version == number)
                                 .order_by(policy_checks.c.created_ms.desc()).limit(1)).first()
            last = None if check is None else {
                "id": check.id, "target_state": check.target_state, "passed": bool(check.passed),
                "outcomes": orjson.loads(check.results), "created_ms": check.created_ms}
            return VersionStatus(model, number, row.state, row.risk_tier, row.owner, list(ALLOWED.get(row.state, ())),
                                 aliases, open_request_id(conn, model, number), last)

    @endpoint("registry.write", "governance.validate", "governance.approve", "deploy")
    def transition(self, ref: str, to_state: str, reason: str = "") -> VersionStatus:
        """Move a version to ``to_state``; checked against the allowed transitions and, for validated
        and deployed, the version's policy. ``approved`` is reached only through approvals."""
        model, number = self._resolve(ref)
        if to_state == "approved":
            raise Conflict(f"{model}/{number} becomes approved only through approvals: request_approval, then decide")
        if to_state == "pending_approval":
            raise Conflict(f"put {model}/{number} up for approval with request_approval (it records the reason and approvers)")
        if to_state in PERMISSION_FOR:
            self.ctx.principal.require(PERMISSION_FOR[to_state], f"move a version to {to_state}")
        with self.ctx.db.read() as conn:
            current = version_row(conn, model, number).state
        require_allowed(model, number, current, to_state)

        def change(conn: Connection, row: Any, check: CheckResult | None) -> VersionStatus:
            require_allowed(model, number, row.state, to_state)
            set_state(conn, row.id, row.state, to_state)
            self.ctx.audit(conn, Action.VERSION_TRANSITION, Subject.MODEL_VERSION, f"{model}/{number}",
                           {"from": row.state, "to": to_state, "reason": reason, "check_id": check.id if check else None})
            if to_state == "deployed":
                emit(conn, WebhookEvent.DEPLOYMENT_DEPLOYED, {"deployment": None, "model": model, "version": number,
                                                              "reason": reason})
            return row.state

        if to_state in CHECKED_STATES:
            gated_write(self.ctx, model, number, to_state, change)
        else:
            with self.ctx.db.write() as conn:
                change(conn, version_row(conn, model, number), None)
        return self.status(f"{model}/{number}")

    @endpoint("governance.validate", "registry.write", "governance.approve")
    def check(self, ref: str, target_state: str = "approved") -> CheckResult:
        """Evaluate the version's policy for ``target_state`` and store the signed result."""
        if target_state not in ALLOWED:
            raise InvalidInput(f"unknown state {target_state!r}; states are {', '.join(ALLOWED)}")
        model, number = self._resolve(ref)
        with self.ctx.db.write() as conn:
            return record_check(self.ctx, conn, version_row(conn, model, number), target_state)

    @endpoint("read")
    def verify_check(self, check_id: str) -> bool:
        """Whether a stored check result still matches its signature."""
        with self.ctx.db.read() as conn:
            return verify_stored_check(conn, self.ctx.settings, check_id)

    @endpoint("governance.configure")
    def set_policy(self, scope: str, target: str, source: str) -> PolicyInfo:
        """Store a new revision of the policy for a model (``scope='model'``) or a risk tier (``'tier'``).
        A governance input: approvers and admins only. A version already up for approval keeps the
        policy fixed on it by its first request, and must also pass the new one."""
        if scope not in ("model", "tier"):
            raise InvalidInput(f"policy scope must be 'model' or 'tier', not {scope!r}")
        check_name(target, "policy target")
        parse_policy(source)
        if scope == "tier":
            from slipway.registry.backend import RegistryBackend

            tiers = RegistryBackend(self.ctx).risk_tiers()
            if target not in tiers:
                raise InvalidInput(f"risk tier {target!r} is not configured; tiers are {', '.join(tiers)}")
        with self.ctx.db.write() as conn:
            if scope == "model":
                try:
                    model_row(conn, target)
                except NotFound:
                    raise NotFound(f"model {target!r} is not registered; create it first (slipway models create "
                                   f"{target} --owner USER --risk-tier TIER) so its policy has something to govern") from None
            last = conn.execute(select(func.max(policies.c.revision)).where(
                policies.c.scope == scope, policies.c.target == target)).scalar()
            info = PolicyInfo(scope, target, int(last or 0) + 1, policy_digest(source), source, self.ctx.principal.name, now_ms())
            conn.execute(policies.insert().values(id=new_id(), scope=scope, target=target,
                                                  revision=info.revision, source=source, digest=info.digest,
                                                  created_by=info.created_by, created_ms=info.created_ms))
            self.ctx.audit(conn, Action.POLICY_SET, Subject.POLICY, f"{scope}:{target}", {"revision": info.revision, "digest": info.digest})
            return info

    @endpoint("governance.configure")
    def retire_policy(self, scope: str, target: str) -> PolicyInfo:
        """Retire the policy of a model or risk tier: a new revision with an empty source, so a model
        falls back to its tier's policy (or none). Earlier revisions stay, as does the policy fixed
        on a version already up for approval. Audited as ``policy.retire``.

        Raises:
            NotFound: no policy in force for that model or tier.
        """
        with self.ctx.db.write() as conn:
            last = conn.execute(select(policies.c.revision, policies.c.source).where(
                policies.c.scope == scope, policies.c.target == target)
                .order_by(policies.c.revision.desc()).limit(1)).first()
            if last is None or last.source == "":
                raise NotFound(f"no policy in force for {scope} {target!r}")
            info = PolicyInfo(scope, target, int(last.revision) + 1, policy_digest(""), "", self.ctx.principal.name,
                              now_ms())
            conn.execute(policies.insert().values(id=new_id(), scope=scope, target=target, revision=info.revision,
                                                  source="", digest=info.digest, created_by=info.created_by,
                                                  created_ms=info.created_ms))
            self.ctx.audit(conn, Action.POLICY_RETIRE, Subject.POLICY, f"{scope}:{target}",
                           {"revision": info.revision, "digest": info.digest})
            return info

    @endpoint("read")
    def list_policies(self) -> list[PolicyInfo]:
        """The policy in force for each model and risk tier that has one (its latest revision)."""
        with self.ctx.db.read() as conn:
            latest = (select(policies.c.scope, policies.c.target, func.max(policies.c.revision).label("revision"))
                      .group_by(policies.c.scope, policies.c.target).subquery())
            rows = conn.execute(select(policies).join(latest, (policies.c.scope == latest.c.scope)
                                                      & (policies.c.target == latest.c.target)
                                                      & (policies.c.revision == latest.c.revision))
                                .order_by(policies.c.scope, policies.c.target)).all()
        return [PolicyInfo(r.scope, r.target, r.revision, r.digest, r.source, r.created_by, r.created_ms) for r in rows
                if r.source]  # an empty source is a retired policy

    @endpoint("read")
    def get_policy(self, ref: str) -> PolicyInfo | None:
        """The policy that applies to a version (its model's own, else its risk tier's)."""
        with self.ctx.db.read() as conn:
            model, number = resolve_version(conn, ref)
            row: Any = version_row(conn, model, number)
            return current_policy(conn, model, row.risk_tier)

    @endpoint("registry.write")
    def promote(self, ref: str, alias: str) -> VersionStatus:
        """Point ``alias`` at the version. Protected aliases (``governance.protected_aliases``) need an
        approved or deployed version that passes its policy now; the registry moves the alias in the
        policy check's transaction."""
        check_alias_name(alias)
        model, number = self._resolve(ref)
        protected = require_alias_rights(self.ctx, alias)

        def change(conn: Connection, row: Any, check: CheckResult | None) -> None:
            move_alias(self.ctx, conn, row, alias, check.id if check else None)

        if protected:
            with self.ctx.db.read() as conn:
                state = version_row(conn, model, number).state
            if state not in SERVABLE_STATES:
                raise Conflict(f"{model}/{number} is {state}; only an approved or deployed version may take the "
                               f"protected alias {alias!r} (request approval first)")
            gated_write(self.ctx, model, number, "approved", change)
        else:
            with self.ctx.db.write() as conn:
                change(conn, version_row(conn, model, number), None)
        return self.status(f"{model}/{number}")
