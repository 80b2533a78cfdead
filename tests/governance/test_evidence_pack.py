"""The evidence pack a regulator receives: complete for an approved, deployed credit model, and
verifiable offline (by the pack's own verify_pack.py in a bare process, and `audit verify-pack`);
an event edited inside the pack is caught even when the tamperer also fixes the manifest."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from slipway.audit.keys import generate_key
from slipway.core.errors import InvalidInput, PermissionDenied
from slipway.core.evidence_check import check_pack, read_pack
from slipway.workspace import Workspace, open_workspace
from tests.governance.credit import LABEL, german, register_credit
from tests.support import make_settings


@pytest.fixture
def audited(home: Path, tmp_path: Path) -> Iterator[tuple[Callable[[str], Workspace], Path]]:
    key = tmp_path / "keys" / "audit.pem"
    public = generate_key(key)
    sections = {"audit": {"signing_key": str(key), "public_key": str(public)},
                "governance": {"dispatch_in_server": False}}
    opened: list[Workspace] = []

    def open_as(user: str = "tester") -> Workspace:
        ws = open_workspace(dataclasses.replace(make_settings(home, user=user), sections=sections))
        opened.append(ws)
        return ws

    yield open_as, public
    for ws in opened:
        ws.close()


def _approved_and_deployed(open_as: Callable[[str], Workspace]) -> tuple[Workspace, str]:
    admin = open_as("tester")
    for name, roles in (("alice", ["developer", "deployer"]), ("bob", ["approver"]), ("carol", ["approver"]),
                        ("vic", ["validator"])):
        admin.identity.create_user(name, roles)
    admin.registry.create_model("credit", owner="credit-risk-team", risk_tier="high")
    alice = open_as("alice")
    version, _ = register_credit(alice, "credit", mitigated=True)
    ref = f"credit/{version}"
    alice.governance.edit_card(ref, "intended_use", "Pre-screening of consumer credit applications.")
    alice.governance.edit_card(ref, "limitations", "Trained on 1970s German applicants.")
    _, test = german()
    open_as("vic").governance.evaluate_fairness(ref, test, label=LABEL, sensitive=["sex"], positive_label=1)
    request = alice.governance.request_approval(ref, "first release")
    open_as("bob").governance.approve(request.id, "fairness report reviewed")
    open_as("carol").governance.approve(request.id, "second pair of eyes")
    alice.governance.promote(ref, "champion")
    alice.serving.apply({"name": "credit-prod", "variants": [{"name": "stable", "model": "credit@champion"}]})
    alice.monitoring.apply({"name": "credit-prod-watch", "watch": "deployment:credit-prod",
                            "checks": [{"name": "quality", "type": "quality"}]})
    return admin, ref


def test_pack_is_complete_and_verifies_offline(audited, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    open_as, public = audited
    admin, ref = _approved_and_deployed(open_as)
    out = admin.governance.export_evidence(ref, tmp_path / "pack")

    card = (out / "model-card.md").read_text()
    assert "credit version 1" in card and "Pre-screening" in (out / "intended-use.md").read_text()
    lineage = json.loads((out / "lineage.json").read_text())
    assert any(d.startswith("german-train@") for d in lineage["dataset_versions"]) and lineage["runs"]
    assert {"kind": "deployment", "id": "credit-prod", "depth": 1} in lineage["downstream"]["nodes"]
    assert json.loads((out / "fairness/report-1.json").read_text())["attributes"]["sex"]["four_fifths_passed"]
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert "accuracy" in evaluation["metrics"] and any(c["passed"] for c in evaluation["policy_checks"])
    (request,) = json.loads((out / "approvals.json").read_text())
    assert {d["approver"] for d in request["decisions"]} == {"bob", "carol"} and request["status"] == "approved"
    history = json.loads((out / "deployments.json").read_text())
    assert history["production_timeline"][0] | {"from": None} == {"alias": "champion", "version": 1, "set_by": "alice",
                                                                  "from": None, "until": None}
    assert history["deployments"] == ["credit-prod"]
    assert any(e["action"] == "deployment.apply" for e in history["events"])

    (monitor,) = json.loads((out / "monitoring.json").read_text())["monitors"]
    assert monitor["monitor"] == "credit-prod-watch" and monitor["watch"] == "deployment:credit-prod"

    events = [json.loads(line) for line in (out / "audit/events.jsonl").read_text().splitlines()]
    actions = {e["event"]["action"] for e in events}
    assert {"registry.register_version", "approval.request", "approval.approve", "registry.set_alias",
            "deployment.apply", "fairness.report", "monitor.apply"} <= actions
    verdict = check_pack(read_pack(out), public.read_bytes())
    assert verdict["ok"] and verdict["events"] == len(events), verdict["problems"]

    # The pack's own verifier, in a bare Python process that cannot import slipway.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    bare = subprocess.run([sys.executable, "-I", str(out / "verify_pack.py"), str(out), "--public-key", str(public)],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert bare.returncode == 0 and f"OK: {len(events)} audit events" in bare.stdout, bare.stdout + bare.stderr

    # A zip verifies the same way.
    zipped = admin.governance.export_evidence(ref, tmp_path / "pack.zip")
    assert check_pack(read_pack(zipped), public.read_bytes())["ok"]
    with pytest.raises(InvalidInput, match="already exists"):
        admin.governance.export_evidence(ref, out)
    with pytest.raises(PermissionDenied, match=r"audit\.read"):
        open_as("alice").governance.export_evidence(ref, tmp_path / "alice-pack")
    assert not (tmp_path / "alice-pack").exists()


def _rewrite(out: Path, name: str, text: str, fix_manifest: bool) -> None:
    (out / name).write_text(text)
    if fix_manifest:
        manifest = json.loads((out / "manifest.json").read_text())
        manifest["files"][name] = hashlib.sha256(text.encode()).hexdigest()
        (out / "manifest.json").write_text(json.dumps(manifest))


def test_tampering_with_an_event_in_the_pack_is_detected(audited, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    open_as, public = audited
    admin, ref = _approved_and_deployed(open_as)
    out = admin.governance.export_evidence(ref, tmp_path / "pack")
    lines = (out / "audit/events.jsonl").read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if '"approval.approve"' in line and "second pair" in line)
    proof: dict[str, Any] = json.loads(lines[index])
    proof["event"]["details_json"] = proof["event"]["details_json"].replace("second pair of eyes", "rubber stamp")
    forged = "\n".join([*lines[:index], json.dumps(proof), *lines[index + 1:]]) + "\n"

    _rewrite(out, "audit/events.jsonl", forged, fix_manifest=False)
    verdict = check_pack(read_pack(out), public.read_bytes())
    assert not verdict["ok"] and any("changed after export" in p for p in verdict["problems"])

    _rewrite(out, "audit/events.jsonl", forged, fix_manifest=True)  # the tamperer also fixes the manifest
    verdict = check_pack(read_pack(out), public.read_bytes())
    assert not verdict["ok"] and any(f"line {index + 1}" in p and "does not hold event" in p
                                     for p in verdict["problems"]), verdict["problems"]
    assert not any("changed after export" in p for p in verdict["problems"])
    bare = subprocess.run([sys.executable, "-I", str(out / "verify_pack.py"), str(out), "--public-key", str(public)],
                          capture_output=True, text=True, timeout=120)
    assert bare.returncode == 1 and f"line {index + 1}" in bare.stdout

    # Changing the leaf data too moves the leaf off the signed root.
    import base64

    proof["leaf_data"] = base64.b64encode(json.dumps(
        ["slipway-audit-event/1", *(proof["event"][k] for k in ("seq", "event_id", "ts", "actor", "action",
                                                                 "subject_kind", "subject_id", "details_json"))],
        separators=(",", ":")).encode()).decode()
    _rewrite(out, "audit/events.jsonl", "\n".join([*lines[:index], json.dumps(proof), *lines[index + 1:]]) + "\n",
             fix_manifest=True)
    verdict = check_pack(read_pack(out), public.read_bytes())
    assert any("is not included in the tree" in p for p in verdict["problems"]), verdict["problems"]

    # A checkpoint signed by another key is refused when the auditor's key is given.
    other = generate_key(tmp_path / "other.pem")
    assert any("signed by key" in p for p in check_pack(read_pack(out), other.read_bytes())["problems"])


def test_cli_export_and_verify_pack(audited, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    open_as, public = audited
    _approved_and_deployed(open_as)
    key = public.with_suffix("")
    (tmp_path / "slipway.toml").write_text(f'[audit]\nsigning_key = "{key}"\npublic_key = "{public}"\n')
    code, out, err = cli("governance", "export", "credit/1", str(tmp_path / "cli-pack.zip"))
    assert code == 0 and "cli-pack.zip" in out, err
    code, out, err = cli("audit", "verify-pack", str(tmp_path / "cli-pack.zip"), "--public-key", str(public))
    assert code == 0 and "valid" in out, err
    code, out, _ = cli("audit", "verify-pack", str(tmp_path / "cli-pack.zip"), "--json")
    assert code == 0 and json.loads(out)["key"].startswith("the pack's copy")
    code, _, err = cli("governance", "export", "credit/9", str(tmp_path / "nine"))
    assert code == 2 and "credit" in err and not (tmp_path / "nine").exists()
    code, _, err = cli("audit", "verify-pack", str(tmp_path / "nowhere"))
    assert code == 2 and "nowhere" in err


def test_pack_on_postgresql(home: Path, tmp_path: Path) -> None:
    from tests.support import postgres_database

    key = tmp_path / "keys" / "audit.pem"
    public = generate_key(key)
    sections = {"audit": {"signing_key": str(key), "public_key": str(public)},
                "governance": {"dispatch_in_server": False}}
    with postgres_database() as uri:
        opened: list[Workspace] = []

        def open_as(user: str = "tester") -> Workspace:
            ws = open_workspace(dataclasses.replace(make_settings(home, user=user, store_uri=uri), sections=sections))
            opened.append(ws)
            return ws

        admin, ref = _approved_and_deployed(open_as)
        out = admin.governance.export_evidence(ref, tmp_path / "pack.zip")
        verdict = check_pack(read_pack(out), public.read_bytes())
        assert verdict["ok"] and verdict["events"] >= 8, verdict["problems"]
        for ws in opened:
            ws.close()
