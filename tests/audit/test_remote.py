"""Checkpoints, verification and proofs work the same through a real ``slipway server``; a remote
caller cannot make the server write a checkpoint to a location it chose."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from slipway.core.errors import PermissionDenied
from slipway.core.transparency import check_inclusion_proof
from slipway.workspace import open_workspace
from tests.audit.conftest import AuditSetup
from tests.support import make_settings, platform_server


def test_remote_checkpoint_verify_and_prove(home: Path, audit_setup: AuditSetup, tmp_path: Path) -> None:
    server_settings = dataclasses.replace(make_settings(home / "server"), sections=audit_setup.section())
    with platform_server(server_settings) as (url, token):
        admin = open_workspace(make_settings(home / "client", server_url=url, token=token))
        try:
            admin.identity.create_user("vic", ["viewer"])
            admin.identity.create_user("aud", ["auditor"])
            published = admin.audit.checkpoint()
            assert published["checkpoint"]["tree_size"] >= 2
            assert list(audit_setup.published.glob("checkpoint-*.json"))
            verdict = admin.audit.verify(checkpoints=[published["checkpoint"]],
                                         public_key=audit_setup.public_key.read_text())
            assert verdict.ok and verdict.checkpoints >= 1, verdict.problems
            proof = admin.audit.prove("1").document
            assert check_inclusion_proof(proof, audit_setup.public_key.read_bytes())["seq"] == 1
            vic_token = admin.identity.create_token("vic").token
            vic = open_workspace(make_settings(home / "vic", server_url=url, token=vic_token))
            aud = open_workspace(make_settings(home / "aud", server_url=url,
                                               token=admin.identity.create_token("aud").token))
            with pytest.raises(PermissionDenied):
                vic.audit.checkpoint()
            with pytest.raises(PermissionDenied):
                aud.audit.checkpoint(to=[str(tmp_path / "chosen-by-caller")])
            assert not (tmp_path / "chosen-by-caller").exists()
            assert aud.audit.checkpoint()["checkpoint"]["tree_size"] >= published["checkpoint"]["tree_size"]
            vic.close()
            aud.close()
        finally:
            admin.close()
