"""The event vocabulary: every audit action, audit subject kind and webhook event, defined once.

Like Kedro's hook specs, this one module is the list of what can happen. The audit ledger
(:meth:`slipway.store.context.ServiceContext.audit`) takes an :class:`Action` and a
:class:`Subject`; the webhook outbox (:func:`slipway.webhooks.outbox.emit`) takes a
:class:`WebhookEvent` whose payload has the keys :data:`WEBHOOK_PAYLOAD_KEYS` names. Both are
``StrEnum``s, so the strings stored in the ledger and sent to subscribers are the values below,
unchanged: the ledger's hashes and ``audit verify`` of an existing store do not move.

Naming: ``<subject>.<verb>`` (``run.create``, ``pipeline.run.finish``). The registry's first
actions were named ``registry.<verb>_<noun>``; they stay as written, because they are in signed
ledgers, and new actions use the subject form. Adding an event: add a member here (and, for a
webhook, its payload keys), write it with ``ctx.audit(conn, Action.X, Subject.Y, …)``;
``tests/core/test_events.py`` fails if an action is written that is not here, or if a member is
never written.
"""

from __future__ import annotations

from enum import StrEnum


class Subject(StrEnum):
    """What an audit event is about (``subject_kind``); also the lineage node kinds."""

    ALERT = "alert"
    APPROVAL_REQUEST = "approval_request"
    ARTIFACT_STORE = "artifact_store"
    DATASET = "dataset"
    DATASET_VERSION = "dataset_version"
    DEPLOYMENT = "deployment"
    ENTITY = "entity"
    EXPERIMENT = "experiment"
    FEATURE_SERVICE = "feature_service"
    FEATURE_VIEW = "feature_view"
    MODEL_VERSION = "model_version"
    MONITOR = "monitor"
    ON_DEMAND_VIEW = "on_demand_view"
    PIPELINE_CACHE = "pipeline_cache"
    PIPELINE_RUN = "pipeline_run"
    PIPELINE_SCHEDULE = "pipeline_schedule"
    PIPELINE_TRIGGER = "pipeline_trigger"
    PLATFORM = "platform"  # a platform folder applied by 'slipway apply' (subject id: its path)
    POLICY = "policy"
    PROJECT = "project"
    REGISTERED_MODEL = "registered_model"
    RUN = "run"
    USER = "user"
    WEBHOOK = "webhook"


class Action(StrEnum):
    """Every action the ledger records, grouped by domain."""

    # tracking
    EXPERIMENT_CREATE = "experiment.create"
    EXPERIMENT_RENAME = "experiment.rename"
    EXPERIMENT_DELETE = "experiment.delete"
    EXPERIMENT_RESTORE = "experiment.restore"
    EXPERIMENT_DESCRIBE = "experiment.describe"
    EXPERIMENT_SET_TAG = "experiment.set_tag"
    EXPERIMENT_DELETE_TAG = "experiment.delete_tag"
    RUN_CREATE = "run.create"
    RUN_IMPORT = "run.import"
    RUN_END = "run.end"
    RUN_REAP = "run.reap"
    RUN_LOG_BATCH = "run.log_batch"
    RUN_LOG_ARTIFACT = "run.log_artifact"
    RUN_LOG_INPUTS = "run.log_inputs"
    RUN_RENAME = "run.rename"
    RUN_DELETE = "run.delete"
    RUN_RESTORE = "run.restore"
    RUN_DELETE_TAG = "run.delete_tag"
    # data
    DATASET_CREATE = "dataset.create"
    DATASET_SET_KEY = "dataset.set_key"
    DATASET_SCHEMA_SAVE = "dataset.schema_save"
    DATASET_VERSION_CREATE = "dataset_version.create"
    # registry (the historical registry.<verb>_<noun> names)
    MODEL_CREATE = "registry.create_model"
    MODEL_UPDATE = "registry.update_model"
    VERSION_REGISTER = "registry.register_version"
    VERSION_UPDATE = "registry.update_version"
    ALIAS_SET = "registry.set_alias"
    ALIAS_DELETE = "registry.delete_alias"
    # governance
    VERSION_TRANSITION = "model_version.transition"
    APPROVAL_REQUEST = "approval.request"
    APPROVAL_APPROVE = "approval.approve"
    APPROVAL_REJECT = "approval.reject"
    APPROVAL_EXTERNAL_REF = "approval.external_ref"
    APPROVAL_TICKET_REFUSED = "approval.ticket_refused"
    POLICY_SET = "policy.set"
    POLICY_RETIRE = "policy.retire"
    POLICY_CHECK = "policy.check"
    FAIRNESS_REPORT = "fairness.report"
    CARD_EDIT = "card.edit"
    DATA_VALIDATION = "data.validation"
    # identity
    USER_BOOTSTRAP = "user.bootstrap"
    USER_CREATE = "user.create"
    USER_SET_ROLES = "user.set_roles"
    USER_DISABLE = "user.disable"
    USER_ENABLE = "user.enable"
    USER_BIND = "user.bind"  # a role in one project
    USER_UNBIND = "user.unbind"
    PROJECT_CREATE = "project.create"
    USER_KEY_ADD = "user.key_add"
    USER_KEY_REVOKE = "user.key_revoke"
    USER_SET_PASSWORD = "user.set_password"
    USER_SIGN_IN = "user.sign_in"
    USER_SIGN_OUT = "user.sign_out"
    USER_SIGN_IN_FAILED = "user.sign_in_failed"  # a wrong password (or unknown user); never the password
    USER_SIGN_IN_LOCKED = "user.sign_in_locked"  # too many failures: a user name or address is locked out
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    # webhooks
    WEBHOOK_ADD = "webhook.add"
    WEBHOOK_SET_ACTIVE = "webhook.set_active"
    # deployments
    DEPLOYMENT_APPLY = "deployment.apply"
    DEPLOYMENT_CANARY_ADVANCE = "deployment.canary.advance"
    DEPLOYMENT_PROMOTE = "deployment.promote"
    DEPLOYMENT_PROMOTE_BLOCKED = "deployment.promote.blocked"
    DEPLOYMENT_ROLLBACK = "deployment.rollback"
    DEPLOYMENT_PAYLOAD_SEGMENT = "deployment.payload_segment"
    DEPLOYMENT_FEEDBACK = "deployment.feedback"
    DEPLOYMENT_WORKER_RESTART = "deployment.worker_restart"
    DEPLOYMENT_DELETE = "deployment.delete"
    # pipelines
    PIPELINE_RUN_CREATE = "pipeline.run.create"
    PIPELINE_RUN_START = "pipeline.run.start"
    PIPELINE_RUN_FINISH = "pipeline.run.finish"
    PIPELINE_RUN_CANCEL = "pipeline.run.cancel"
    PIPELINE_STEPS_UPDATE = "pipeline.steps.update"
    PIPELINE_CACHE_CLEAR = "pipeline.cache.clear"
    PIPELINE_SCHEDULE_CREATE = "pipeline.schedule.create"
    PIPELINE_SCHEDULE_UPDATE = "pipeline.schedule.update"
    PIPELINE_SCHEDULE_ENABLE = "pipeline.schedule.enable"
    PIPELINE_SCHEDULE_DISABLE = "pipeline.schedule.disable"
    PIPELINE_SCHEDULE_DELETE = "pipeline.schedule.delete"
    PIPELINE_TRIGGER_CREATE = "pipeline.trigger.create"
    PIPELINE_TRIGGER_UPDATE = "pipeline.trigger.update"
    PIPELINE_TRIGGER_ENABLE = "pipeline.trigger.enable"
    PIPELINE_TRIGGER_DISABLE = "pipeline.trigger.disable"
    PIPELINE_TRIGGER_DELETE = "pipeline.trigger.delete"
    # monitoring
    MONITOR_APPLY = "monitor.apply"
    MONITOR_DELETE = "monitor.delete"
    MONITOR_RUN = "monitor.run"
    ALERT_OPEN = "alert.open"
    ALERT_ACKNOWLEDGE = "alert.acknowledge"
    ALERT_RESOLVE = "alert.resolve"
    MONITOR_ACTION = "monitor.action"
    FEATURE_DEFINITION_ADD = "feature_definition.add"
    FEATURE_DEFINITION_NEW_VERSION = "feature_definition.new_version"
    FEATURE_DEFINITION_UPDATE = "feature_definition.update"
    FEATURE_DEFINITION_REMOVE = "feature_definition.remove"
    FEATURE_TRAINING_SET = "feature.training_set"
    FEATURE_VIEW_MATERIALIZE = "feature_view.materialize"
    MONITOR_DIAGNOSE = "monitor.diagnose"
    # maintenance
    BLOBS_GC = "blobs.gc"
    # GitOps: a platform folder applied (its Git commit and the changes)
    PLATFORM_APPLY = "platform.apply"


# Written by releases before the registry's one alias mover; still read when a ledger is replayed.
LEGACY_ALIAS_SET = "model.alias.set"

# Decisions whose events carry a proof of who decided (alias moves only of protected aliases).
PROVED_ACTIONS: tuple[str, ...] = (Action.APPROVAL_APPROVE, Action.APPROVAL_REJECT)
ALIAS_ACTIONS: tuple[str, ...] = (LEGACY_ALIAS_SET, Action.ALIAS_SET, Action.ALIAS_DELETE)
# Governance decisions: after a transaction that records one commits, a checkpoint is published.
CHECKPOINT_ACTIONS: frozenset[str] = frozenset({*PROVED_ACTIONS, *ALIAS_ACTIONS, Action.VERSION_TRANSITION,
                                                Action.POLICY_SET, Action.POLICY_RETIRE})


def feature_definition_action(change: str) -> Action:
    """``feature_definition.add|new_version|update|remove`` for a planned change."""
    return Action(f"feature_definition.{change}")


def approval_action(decision: str) -> Action:
    """``approval.approve`` or ``approval.reject`` for a decision named ``approve``/``reject``."""
    return Action(f"approval.{decision}")


class WebhookEvent(StrEnum):
    """What a webhook can subscribe to (``type`` of a delivery)."""

    APPROVAL_REQUESTED = "approval.requested"
    APPROVAL_APPROVED = "approval.approved"
    APPROVAL_REJECTED = "approval.rejected"
    ALIAS_MOVED = "alias.moved"
    POLICY_FAILED = "policy.failed"
    DEPLOYMENT_DEPLOYED = "deployment.deployed"
    DEPLOYMENT_ROLLED_BACK = "deployment.rolled_back"
    DEPLOYMENT_CANARY_STEP = "deployment.canary_step"
    ALERT = "alert"  # a monitor's alert opened (the monitor's spec names the webhook action)


# The keys every payload of an event has (one shape per event; more keys may follow them).
WEBHOOK_PAYLOAD_KEYS: dict[WebhookEvent, tuple[str, ...]] = {
    WebhookEvent.APPROVAL_REQUESTED: ("model", "version", "request_id", "requested_by", "reason", "required"),
    WebhookEvent.APPROVAL_APPROVED: ("model", "version", "request_id", "approvers"),
    WebhookEvent.APPROVAL_REJECTED: ("model", "version", "request_id", "rejected_by"),
    WebhookEvent.ALIAS_MOVED: ("model", "alias", "version"),
    WebhookEvent.POLICY_FAILED: ("model", "version", "target_state", "check_id", "failures"),
    WebhookEvent.DEPLOYMENT_DEPLOYED: ("deployment", "model", "version"),
    WebhookEvent.DEPLOYMENT_ROLLED_BACK: ("deployment", "model", "version"),
    WebhookEvent.DEPLOYMENT_CANARY_STEP: ("deployment", "step"),
    WebhookEvent.ALERT: ("alert", "monitor", "check", "run", "summary"),
}
