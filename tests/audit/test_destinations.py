"""Checkpoints reach a webhook receiver (real HTTP on loopback) and an fsspec object store URL, and
verification reads them back from the URL."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest

from slipway.core.errors import BackendUnavailable
from slipway.core.transparency import check_checkpoint, load_public_key
from slipway.workspace import open_workspace
from tests.audit.conftest import AuditSetup
from tests.governance.receiver import Receiver
from tests.support import make_settings


def test_webhook_and_memory_destinations(home: Path, audit_setup: AuditSetup) -> None:
    bucket = f"memory://audit-{home.parent.name}"
    with Receiver() as receiver:
        section = audit_setup.section()
        section["audit"]["checkpoints"] = [bucket, f"{receiver.url}/witness"]
        ws = open_workspace(dataclasses.replace(make_settings(home), sections=section))
        try:
            ws.identity.create_user("ann", ["viewer"])
            published = ws.audit.checkpoint()
            path, headers, body = receiver.received[-1]
            assert path == "/witness" and {k.lower(): v for k, v in headers.items()}["content-type"] == "application/json"
            sent = orjson.loads(body)
            assert sent["tree_size"] == published["checkpoint"]["tree_size"]
            check_checkpoint(sent, load_public_key(audit_setup.public_key.read_bytes()))
            verdict = ws.audit.verify()
            assert verdict.ok and verdict.checkpoints == 1  # read back from memory://, the webhook keeps its own
        finally:
            ws.close()
    with Receiver(status=500) as failing:
        ws = open_workspace(dataclasses.replace(make_settings(home), sections=audit_setup.section()))
        try:
            with pytest.raises(BackendUnavailable, match="answered 500"):
                ws.audit.checkpoint(to=[failing.url])
        finally:
            ws.close()
