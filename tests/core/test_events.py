"""The event vocabulary (slipway.core.events): every action the ledger records and every webhook
event the outbox queues is defined there once, each is written somewhere, and a real workflow
stores only those strings, with one payload shape per webhook event."""

from __future__ import annotations

import ast
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

import slipway
from slipway.core.errors import InvalidInput
from slipway.core.events import WEBHOOK_PAYLOAD_KEYS, Action, Subject, WebhookEvent
from slipway.store.schema.core import audit_events
from slipway.store.schema.webhooks import webhook_deliveries
from slipway.webhooks.outbox import emit
from slipway.workspace import Workspace
from tests.models.ai4i import ai4i, fitted_pipeline

SRC = Path(slipway.__file__).parent
# Members written through a computed name, with the expression that builds them.
COMPUTED_ACTIONS = {
    "approval.approve", "approval.reject",  # approval_action(decision)
    *(f"feature_definition.{change}" for change in ("add", "new_version", "update", "remove")),  # feature_definition_action
    *(f"pipeline.{noun}.{verb}" for noun in ("schedule", "trigger") for verb in ("update", "enable", "disable", "delete")),
}
COMPUTED_WEBHOOK_EVENTS = {"approval.approved", "approval.rejected"}  # WebhookEvent(f"approval.{status}")
RESERVED_WEBHOOK_EVENTS: set[str] = set()  # accepted in subscriptions but never sent


def _calls() -> list[tuple[Path, ast.Call]]:
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                found.append((path, node))
    return found


def _action_argument(call: ast.Call) -> ast.expr | None:
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "audit" and len(call.args) >= 2:
        return call.args[1]
    if isinstance(func, ast.Name) and func.id in ("append_event", "emit") and len(call.args) >= 3:
        return call.args[2] if func.id == "append_event" else call.args[1]
    return None


def _members_named(enum_name: str) -> set[str]:
    names = set()
    for path in SRC.rglob("*.py"):
        if path.name == "events.py" and path.parent.name == "core":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == enum_name:
                names.add(node.attr)
    return names


def _typed(expr: ast.expr) -> bool:
    """``Action.X``, ``Action(...)``/``WebhookEvent(...)``/``approval_action(...)`` (checked by the enum
    at run time), or a conditional choosing between such; never a string."""
    if isinstance(expr, ast.IfExp):
        return _typed(expr.body) and _typed(expr.orelse)
    if isinstance(expr, ast.Attribute):
        return isinstance(expr.value, ast.Name) and expr.value.id in ("Action", "WebhookEvent")
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        return expr.func.id in ("Action", "WebhookEvent", "approval_action", "feature_definition_action")
    return isinstance(expr, ast.Name)  # a parameter typed Action/WebhookEvent (mypy checks its callers)


def test_no_action_or_event_is_written_as_a_bare_string() -> None:
    written = [(path, call, argument) for path, call in _calls() if (argument := _action_argument(call)) is not None]
    assert len(written) > 60  # every ctx.audit / append_event / emit call in the package is looked at
    bare = [f"{path.relative_to(SRC)}:{call.lineno}" for path, call, argument in written if not _typed(argument)]
    assert bare == [], f"write actions and webhook events through slipway.core.events, not strings: {bare}"


def test_every_action_in_the_vocabulary_is_written_somewhere() -> None:
    named = _members_named("Action")
    never = [a.value for a in Action if a.name not in named and a.value not in COMPUTED_ACTIONS]
    assert never == [], f"actions defined but never written: {never}"


def test_every_webhook_event_is_sent_somewhere() -> None:
    named = _members_named("WebhookEvent")
    never = [e.value for e in WebhookEvent
             if e.name not in named and e.value not in COMPUTED_WEBHOOK_EVENTS | RESERVED_WEBHOOK_EVENTS]
    assert never == [], f"webhook events defined but never sent: {never}"
    assert set(WEBHOOK_PAYLOAD_KEYS) == set(WebhookEvent)


def test_stored_strings_are_the_historical_ones() -> None:
    # Signed ledgers hold these strings; renaming a value would break the replay of old stores.
    assert (Action.MODEL_CREATE, Action.ALIAS_SET, Action.RUN_CREATE) == (
        "registry.create_model", "registry.set_alias", "run.create")
    assert len({a.value for a in Action}) == len(Action) and len({s.value for s in Subject}) == len(Subject)


@pytest.fixture
def worked(sqlite_ws: Workspace) -> Workspace:
    """A store after a short governed workflow, with a webhook subscribed to every event."""
    ws = sqlite_ws
    ws.governance.add_webhook("http://127.0.0.1:9/hook", ["*"])
    X, y = ai4i(300)
    model = fitted_pipeline("forest")
    with ws.tracking.start_run("train", experiment="events"):
        ws.tracking.log_metric("accuracy", float(model.score(X, y)))
        slipway.log_model(model, input_example=X.head(5), registered_model_name="events")
    ws.registry.set_alias("events", "staging", 1)
    ws.registry.delete_alias("events", "staging")
    ws.identity.create_user("dev", ["developer"])
    ws.governance.set_policy("metrics:\n  accuracy: {min: 0.99999}\n", tier="low")
    return ws


def test_a_workflow_stores_only_vocabulary_actions_and_shaped_payloads(worked: Workspace) -> None:
    db = worked.backend("audit").ctx.db
    with db.read() as conn:
        events = conn.execute(select(audit_events.c.action, audit_events.c.subject_kind)).all()
        deliveries = conn.execute(select(webhook_deliveries.c.event_type, webhook_deliveries.c.payload)).all()
    actions = {Action(e.action) for e in events}  # ValueError on any string outside the vocabulary
    assert {Action.RUN_CREATE, Action.VERSION_REGISTER, Action.ALIAS_SET, Action.ALIAS_DELETE,
            Action.USER_CREATE, Action.POLICY_SET, Action.WEBHOOK_ADD} <= actions
    assert {Subject(e.subject_kind) for e in events} >= {Subject.RUN, Subject.MODEL_VERSION, Subject.USER}
    assert deliveries, "the alias move queues an alias.moved delivery"
    for delivery in deliveries:
        body = orjson.loads(delivery.payload)
        assert body["type"] == delivery.event_type
        assert set(WEBHOOK_PAYLOAD_KEYS[WebhookEvent(delivery.event_type)]) <= set(body["data"])


def test_emit_refuses_an_unknown_event_or_a_payload_of_another_shape(worked: Workspace) -> None:
    db = worked.backend("audit").ctx.db
    with db.write() as conn, pytest.raises(InvalidInput, match="needs the payload keys"):
        emit(conn, WebhookEvent.DEPLOYMENT_DEPLOYED, {"model": "events", "version": 1})
    with db.write() as conn, pytest.raises(InvalidInput, match="unknown event type"):
        emit(conn, "deployment.exploded", {})  # type: ignore[arg-type]
