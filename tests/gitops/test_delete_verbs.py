"""``slipway deploy delete NAME`` and ``slipway monitors delete NAME``: the same deletes ``apply
--prune`` carries out (history kept, audited, idempotent), without a prompt like the other
destructive verbs (``pipelines delete``, ``runs delete``); bad input exits 2 with one line."""

from __future__ import annotations

import json

import pytest

import slipway
from slipway.gitops.plan import apply, plan
from slipway.workspace import open_workspace
from tests.gitops.conftest import commit
from tests.support import make_settings


def test_deploy_and_monitors_delete(platform, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    ws, folder = platform
    commit(folder, "platform")
    apply(ws, str(folder))
    home = folder.parent / "home"
    ws.close()

    code, out, err = cli("deploy", "delete", "credit-prod", "--reason", "retired: replaced by credit-v2")
    assert code == 0 and "deployment credit-prod deleted (revision 2, deleted)" in out, err
    code, out, err = cli("deploy", "delete", "credit-prod", "--json")  # again: nothing changes
    assert code == 0 and json.loads(out)["revision"] == 2 and json.loads(out)["status"] == "deleted", err
    code, out, err = cli("monitors", "delete", "txns-quality")
    assert code == 0 and "monitor txns-quality deleted (revision 2)" in out, err
    code, out, err = cli("monitors", "delete", "txns-quality", "--json")
    assert code == 0 and json.loads(out)["deleted_ms"] is not None and json.loads(out)["revision"] == 2, err

    with open_workspace(make_settings(home)) as admin:
        assert admin.serving.list_deployments() == [] and admin.serving.get("credit-prod").variants == []
        (event,) = admin.audit.log(action="deployment.delete")
        assert event.details["reason"] == "retired: replaced by credit-v2"
        assert len(admin.audit.log(action="monitor.delete")) == 1
        # Deleted outside Git: drift the platform folder puts back.
        drift = plan(admin, str(folder))
        assert {(i.kind, i.name, i.action) for i in drift.pending} == {("deployment", "credit-prod", "add"),
                                                                        ("monitor", "txns-quality", "add")}
        admin.identity.add_key("alice", slipway.generate_signing_key(home / "alice.key", "alice"))
    code, out, err = cli("monitors", "run", "txns-quality")
    assert code == 2 and "was deleted" in err

    for args in (("deploy", "delete", "nope"), ("monitors", "delete", "nope")):
        code, out, err = cli(*args)
        assert code == 2 and "nope" in err and len(err.strip().splitlines()) == 1, (args, err)
    monkeypatch.setenv("SLIPWAY_USER", "alice")  # a developer: may not deploy
    monkeypatch.setenv("SLIPWAY_SIGNING_KEY", str(home / "alice.key"))
    code, out, err = cli("deploy", "delete", "credit-prod")
    assert code == 2 and "deploy" in err and len(err.strip().splitlines()) == 1, err
