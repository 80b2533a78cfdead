"""Identity on one laptop: who embedded mode acts as, and decisions whose author is proved.

Embedded mode acts as the operating-system user; ``SLIPWAY_USER`` names someone else only with
that person's registered key; decisions carry a signature ``audit verify`` checks again.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select, update

from slipway.core.auth import Principal
from slipway.core.environment import os_user
from slipway.core.errors import PermissionDenied, Unauthenticated
from slipway.core.settings import load_settings
from slipway.governance.ledger_checks import decision_problems as check_decision_signatures
from slipway.identity.keys import generate_key_files
from slipway.local.transport import LocalTransport
from slipway.store.schema.core import audit_events
from slipway.store.schema.governance import approval_decisions
from slipway.workspace import Workspace, open_workspace
from tests.governance.credit import register_credit
from tests.support import make_settings


def _as(home: Path, user: str = "", signing_key: str = "") -> Workspace:
    """A workspace as a person would open it: SLIPWAY_USER and SLIPWAY_SIGNING_KEY, nothing else."""
    return open_workspace(load_settings(home=home, user=user, signing_key=signing_key, server_url="", token=""))


@pytest.fixture
def pending(home: Path) -> tuple[Workspace, str, str]:
    """(the OS user's admin workspace, an open request by alice, the version ref); bob is an approver."""
    admin = _as(home)
    admin.identity.create_user("alice", ["developer", "approver"])
    admin.identity.create_user("bob", ["approver"])
    alice = open_workspace(make_settings(home, user="alice"))
    version, _ = register_credit(alice, "credit", mitigated=True)
    request = alice.governance.request_approval(f"credit/{version}", "ready")
    alice.close()
    return admin, request.id, f"credit/{version}"


def test_the_first_os_user_bootstraps_a_new_store_and_nobody_else_gets_a_role(home: Path) -> None:
    admin = _as(home)
    assert admin.identity.whoami() == {"name": os_user(), "roles": ["admin"], "kind": "user", "bindings": []}
    assert [e.action for e in admin.audit.log()] == ["user.bootstrap"]
    # A store whose first user is someone else: the OS user is unknown there and gets no role.
    other = home / "other"
    carol = LocalTransport(load_settings(home=other, server_url=""), Principal("setup", frozenset({"admin"})))
    carol.backend("identity").create_user("carol", ["admin"])
    stranger = _as(other)
    assert stranger.principal.roles == frozenset()
    with pytest.raises(PermissionDenied, match=rf"{os_user()} \(roles: none\) may not list users"):
        stranger.identity.list_users()


def test_a_name_alone_acts_as_nobody(pending: tuple[Workspace, str, str], home: Path) -> None:
    admin, request_id, ref = pending
    with pytest.raises(Unauthenticated, match=r"acting as 'ghost' .* no signing key is set"):
        _as(home, "ghost")
    with pytest.raises(Unauthenticated, match=r"acting as 'bob' .* no signing key is set"):
        _as(home, "bob")
    alice_key = str(home / "keys" / "alice")  # alice holds her own key, and tries it as bob
    with pytest.raises(Unauthenticated, match=r"acting as 'bob' .* is alice's"):
        _as(home, "bob", alice_key)
    with pytest.raises(PermissionDenied, match=r"alice requested approval .* may not decide"):
        _as(home, "alice", alice_key).governance.approve(request_id, "mine")
    assert admin.governance.get_request(request_id).approvals == 0
    assert admin.governance.status(ref).state == "pending_approval"


def test_an_embedded_decision_needs_the_deciders_registered_key(pending: tuple[Workspace, str, str],
                                                                 home: Path, tmp_path: Path) -> None:
    admin, request_id, ref = pending
    with pytest.raises(PermissionDenied, match="without a signing key: create one with 'slipway users key generate'"):
        admin.governance.approve(request_id, "as admin, no key")
    _, fingerprint = generate_key_files(tmp_path / "mine" / "id_ed25519")
    with pytest.raises(PermissionDenied, match=re.escape(f"the signing key {fingerprint} is not registered to {os_user()}")):
        _as(home, signing_key=str(tmp_path / "mine" / "id_ed25519")).governance.approve(request_id, "unregistered key")
    assert admin.governance.get_request(request_id).approvals == 0
    bob_public, _ = generate_key_files(tmp_path / "bob" / "id_ed25519")
    admin.identity.add_key("bob", bob_public.read_text())
    bob = _as(home, "bob", str(tmp_path / "bob" / "id_ed25519"))
    done = bob.governance.approve(request_id, "reviewed")
    assert done.status == "approved" and admin.governance.status(ref).state == "approved"
    event = admin.audit.log(action="approval.approve")[0]
    assert event.actor == "bob" and event.details["proof"]["scheme"] == "ed25519"
    admin.identity.set_roles("bob", ["developer", "deployer"])
    with pytest.raises(PermissionDenied, match="without a signing key"):
        admin.governance.promote(ref, "champion")  # a protected alias is a decision too
    _as(home, "bob", str(tmp_path / "bob" / "id_ed25519")).governance.promote(ref, "champion")
    assert admin.registry.resolve("credit@champion").version == int(ref.split("/")[1])
    with admin._transport.db.read() as conn:
        assert check_decision_signatures(conn) == []
    assert admin.audit.verify().ok


def test_a_tampered_signature_or_decision_is_named_by_verify(pending: tuple[Workspace, str, str], home: Path,
                                                              tmp_path: Path) -> None:
    admin, request_id, _ = pending
    bob_public, _ = generate_key_files(tmp_path / "bob" / "id_ed25519")
    admin.identity.add_key("bob", bob_public.read_text())
    _as(home, "bob", str(tmp_path / "bob" / "id_ed25519")).governance.approve(request_id, "reviewed")
    db = admin._transport.db
    with db.write() as conn:  # the requester, with write access to the file, rewrites the approver's comment
        conn.execute(update(approval_decisions).values(comment="rubber stamp"))
    with db.read() as conn:
        problems = check_decision_signatures(conn)
    assert len(problems) == 1 and "approval decision" in problems[0] and "comment" in problems[0]
    verdict = admin.audit.verify()  # the hash chain is intact (no event was touched); the signature is not
    assert not verdict.ok and "was signed for comment='reviewed', but the record says 'rubber stamp'" in verdict.reason
    with db.write() as conn:
        conn.execute(update(approval_decisions).values(comment="reviewed"))
        row = conn.execute(select(audit_events).where(audit_events.c.action == "approval.approve")).one()
        details = orjson.loads(row.details)
        signature = details["proof"]["signature"]
        details["proof"]["signature"] = ("A" if signature[0] != "A" else "B") + signature[1:]
        conn.execute(update(audit_events).where(audit_events.c.seq == row.seq)
                     .values(details=orjson.dumps(details).decode()))
    with db.read() as conn:
        problems = check_decision_signatures(conn)
    assert problems == [f"audit event #{row.seq} (approval.approve by bob on {row.subject_id}) has a signature "
                        f"that does not verify with key {details['proof']['key']}"]


def test_a_disabled_or_revoked_key_signs_nothing(pending: tuple[Workspace, str, str], home: Path,
                                                  tmp_path: Path) -> None:
    admin, _, _ = pending
    bob_public, fingerprint = generate_key_files(tmp_path / "bob" / "id_ed25519")
    admin.identity.add_key("bob", bob_public.read_text())
    admin.identity.revoke_key(fingerprint)
    with pytest.raises(Unauthenticated, match="not registered"):
        _as(home, "bob", str(tmp_path / "bob" / "id_ed25519"))
    settings = dataclasses.replace(make_settings(home, user="alice"))
    admin.identity.set_disabled("alice", True)
    assert open_workspace(settings).principal.roles == frozenset()


def test_the_cli_refuses_a_borrowed_name_and_self_approval(pending: tuple[Workspace, str, str], home: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from slipway.cli.main import main
    from slipway.workspace import set_default

    admin, request_id, ref = pending
    monkeypatch.setenv("SLIPWAY_HOME", str(home))
    monkeypatch.delenv("SLIPWAY_SERVER_URL", raising=False)

    def slipway(user: str, key: str = "") -> tuple[int, str]:
        monkeypatch.setenv("SLIPWAY_USER", user)
        monkeypatch.setenv("SLIPWAY_SIGNING_KEY", key)
        monkeypatch.setattr(sys, "argv", ["slipway", "governance", "approve", request_id, "--comment", "ok"])
        set_default(None)
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main()
        set_default(None)
        return int(exited.value.code or 0), capsys.readouterr().err

    code, err = slipway("ghost")
    assert code == 2 and err.startswith("Unauthenticated: you are") and "Traceback" not in err
    code, err = slipway("alice", str(home / "keys" / "alice"))
    assert code == 2 and "alice requested approval" in err
    assert admin.governance.status(ref).state == "pending_approval"
