"""Projects and role bindings in the platform folder, and the ``project`` key of what a project
owns: planned, applied idempotently, drift after ``slipway users bind`` made outside Git, a
binding removed from the folder deleted only with --prune (the plan says so first)."""

from __future__ import annotations

import textwrap

import pytest

from slipway.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from slipway.gitops.plan import apply, plan
from slipway.workspace import open_workspace
from tests.gitops.conftest import PIPELINES, PLATFORM, commit
from tests.support import make_settings

ACCESS = textwrap.dedent('''
    kind: project
    name: fraud
    description: the fraud team
    ---
    kind: project
    name: credit
    ---
    kind: binding
    user: alice
    project: credit
    roles: [developer, deployer]
    ---
    kind: binding
    user: bob
    project: fraud
    role: developer
    ---
    kind: binding
    user: vera
    role: validator
    ''')


def _owned(text: str, project: str) -> str:
    """Every document of ``text`` given ``project: PROJECT``."""
    return "---".join(f"{doc.rstrip()}\nproject: {project}\n" for doc in text.split("---"))


def _shown(result) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return [(i.kind, i.name, i.action) for i in result.items if i.action != "unchanged"]


@pytest.fixture
def teams(platform):  # type: ignore[no-untyped-def]
    ws, folder = platform
    ws.identity.create_user("bob", [])
    ws.identity.create_user("vera", ["viewer"])
    (folder / "access.yaml").write_text(ACCESS)
    (folder / "platform.yaml").write_text(_owned(PLATFORM, "credit"))
    (folder / "pipelines.yaml").write_text(_owned("---".join(PIPELINES.split("---")[:2]), "fraud"))
    commit(folder, "teams")
    return ws, folder


def test_projects_bindings_and_owned_objects_applied_once(teams, home) -> None:  # type: ignore[no-untyped-def]
    ws, folder = teams
    first = plan(ws, str(folder))
    access = [(k, n, a) for k, n, a in _shown(first) if k in ("project", "binding")]
    assert access == [("project", "credit", "add"), ("project", "fraud", "add"),
                      ("binding", "alice:deployer@credit", "add"), ("binding", "alice:developer@credit", "add"),
                      ("binding", "bob:developer@fraud", "add"), ("binding", "vera:validator", "add"),
                      # live global roles of users the folder names, not declared: drift, kept without --prune
                      ("binding", "alice:developer", "extra"), ("binding", "vera:viewer", "extra")]
    assert {p.name for p in ws.identity.list_projects()} <= {"default"}  # a plan writes nothing

    apply(ws, str(folder))
    assert {p.name: p.description for p in ws.identity.list_projects()}.items() >= {"fraud": "the fraud team", "credit": ""}.items()
    assert {(b.role, b.project) for b in ws.identity.bindings("alice")} == {("developer", "credit"),
                                                                             ("deployer", "credit")}
    assert [(b.role, b.project) for b in ws.identity.bindings("bob")] == [("developer", "fraud")]
    users = {u.name: u.roles for u in ws.identity.list_users()}
    assert users["vera"] == ["validator", "viewer"] and users["bob"] == [] and users["alice"] == ["developer"]
    assert ws.serving.get("credit-prod").project == "credit"
    assert [m.project for m in ws.monitoring.monitors()] == ["credit"]
    assert [s.project for s in ws.pipelines.list_schedules()] == ["fraud"]
    assert [t.project for t in ws.pipelines.list_triggers()] == ["fraud"]

    again = apply(ws, str(folder))  # the second time changes nothing (the extras stay extras)
    assert again.pending == []
    assert set(_shown(again)) == {("binding", "vera:viewer", "extra"), ("binding", "alice:developer", "extra")}
    pruned = apply(ws, str(folder), prune=True)
    assert [(i.name, i.action) for i in pruned.pending] == [("alice:developer", "delete"), ("vera:viewer", "delete")]
    users = {u.name: u.roles for u in ws.identity.list_users()}
    assert users["vera"] == ["validator"] and users["alice"] == []
    assert not plan(ws, str(folder)).drifted

    # bob, bound to fraud only, is refused on credit's deployment, naming the permission
    with open_workspace(make_settings(home, user="bob")) as bob, pytest.raises(PermissionDenied, match="deploy"):
        bob.serving.delete("credit-prod")


def test_bind_outside_git_is_drift_removed_only_with_prune(teams, cli) -> None:  # type: ignore[no-untyped-def]
    ws, folder = teams
    apply(ws, str(folder), prune=True)
    ws.identity.bind("bob", "developer", "credit")  # outside Git: bob is named in the folder
    ws.identity.bind("vera", "viewer", "fraud")      # outside Git: fraud is declared in the folder
    ws.close()
    code, out, _ = cli("users", "bind", "alice", "viewer", "--project", "fraud")
    assert code == 0
    code, out, _ = cli("apply", str(folder), "--check")
    assert code == 1
    for name in ("bob:developer@credit", "vera:viewer@fraud", "alice:viewer@fraud"):
        assert f"? binding {name}: extra  (not in the folder; --prune deletes it)" in out, out
    code, out, _ = cli("apply", str(folder), "--dry-run", "--prune")
    assert code == 0 and "- binding bob:developer@credit: delete  (the role is taken away" in out
    code, out, err = cli("apply", str(folder))
    assert code == 0 and "nothing to change" in out, err
    code, out, err = cli("apply", str(folder), "--prune")
    assert code == 0 and "applied 3 change(s)" in out, err
    code, out, _ = cli("apply", str(folder), "--check")
    assert code == 0, out

    # A binding removed from the folder: extra without --prune, unbound with it.
    (folder / "access.yaml").write_text(ACCESS.replace("roles: [developer, deployer]", "roles: [developer]"))
    commit(folder, "alice no longer deploys")
    with open_workspace(make_settings(folder.parent / "home")) as admin:
        assert _shown(plan(admin, str(folder))) == [("binding", "alice:deployer@credit", "extra")]
        assert _shown(apply(admin, str(folder))) == [("binding", "alice:deployer@credit", "extra")]
        assert len(admin.identity.bindings("alice")) == 2
        assert [(i.name, i.action) for i in apply(admin, str(folder), prune=True).pending] == [
            ("alice:deployer@credit", "delete")]
        assert [(b.role, b.project) for b in admin.identity.bindings("alice")] == [("developer", "credit")]
        events = admin.audit.log(action="user.unbind")
        assert events and events[0].details == {"role": "deployer", "project": "credit"}


def test_projects_are_never_deleted_and_objects_do_not_move(teams) -> None:  # type: ignore[no-untyped-def]
    ws, folder = teams
    apply(ws, str(folder), prune=True)
    ws.identity.create_project("by-hand")
    pruning = plan(ws, str(folder), prune=True)
    (kept,) = [i for i in pruning.items if i.action != "unchanged"]
    assert (kept.kind, kept.name, kept.action) == ("project", "by-hand", "extra") and "never deleted" in kept.note

    # A schedule moves by being recreated in its new project; a deployment is refused.
    (folder / "pipelines.yaml").write_text(_owned("---".join(PIPELINES.split("---")[:2]), "credit"))
    moved = apply(ws, str(folder))
    assert {(i.kind, i.action) for i in moved.pending} == {("schedule", "change"), ("trigger", "change")}
    assert [s.project for s in ws.pipelines.list_schedules()] == ["credit"]
    assert [t.project for t in ws.pipelines.list_triggers()] == ["credit"]
    (folder / "platform.yaml").write_text(_owned(PLATFORM, "fraud"))
    (change,) = [i for i in plan(ws, str(folder)).pending if i.kind == "deployment"]
    assert "does not move between projects" in change.note and '+ project: "fraud"' in change.diff
    with pytest.raises(Conflict, match="credit-prod"):
        apply(ws, str(folder))
    assert ws.serving.get("credit-prod").project == "credit" and ws.monitoring.monitors()[0].project == "credit"


def test_bad_access_declarations_are_refused(teams) -> None:  # type: ignore[no-untyped-def]
    ws, folder = teams
    cases = {
        "kind: binding\nuser: nobody\nproject: fraud\nrole: developer\n": (NotFound, "user 'nobody' does not exist"),
        "kind: binding\nuser: bob\nproject: nowhere\nrole: developer\n": (NotFound, "project 'nowhere'"),
        "kind: binding\nuser: bob\nrole: developer\nroles: [viewer]\n": (InvalidInput, "role"),
        "kind: binding\nuser: bob\nproject: fraud\nrole: wizard\n": (InvalidInput, "unknown role"),
        "kind: binding\nuser: bob\nproject: fraud\nrole: developer\n---\nkind: binding\nuser: bob\nproject: fraud\n"
        "roles: [developer]\n": (InvalidInput, "declared twice"),
        "kind: project\nname: risk\nowner: x\n": (InvalidInput, "unknown key"),
        "kind: schedule\nname: s\npipeline: pipelines/retrain.py:retrain\ncron: '0 1 * * *'\nproject: elsewhere\n":
            (NotFound, "schedule s: project 'elsewhere'"),
    }
    for text, (error, message) in cases.items():
        (folder / "extra.yaml").write_text(text)
        with pytest.raises(error, match=message):
            apply(ws, str(folder))
    assert {p.name for p in ws.identity.list_projects()} <= {"default"} and ws.serving.list_deployments() == []


def test_access_and_projects_through_a_server(home, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from tests.gitops.conftest import PIPELINE
    from tests.gitops.conftest import git as _git
    from tests.support import platform_server

    folder = tmp_path / "platform"
    (folder / "pipelines").mkdir(parents=True)
    (folder / "pipelines" / "retrain.py").write_text(PIPELINE)
    (folder / "access.yaml").write_text(ACCESS)
    (folder / "pipelines.yaml").write_text(_owned(PIPELINES.split("---")[0], "fraud"))
    _git(folder, "init", "-q")
    commit(folder, "access")
    settings = dataclasses.replace(make_settings(home / "server"), sections={"governance": {"dispatch_in_server": False}})
    with platform_server(settings) as (url, token):
        ws = open_workspace(make_settings(home / "client", server_url=url, token=token))
        try:
            for user, roles in (("alice", ["developer"]), ("bob", []), ("vera", [])):
                ws.identity.create_user(user, roles)
            assert len(apply(ws, str(folder)).pending) == 7  # 2 projects, 4 bindings, 1 schedule
            assert [s.project for s in ws.pipelines.list_schedules()] == ["fraud"]
            assert _shown(plan(ws, str(folder))) == [("binding", "alice:developer", "extra")]
            ws.identity.bind("vera", "viewer", "credit")  # outside Git
            assert ("binding", "vera:viewer@credit", "extra") in _shown(plan(ws, str(folder)))
            apply(ws, str(folder), prune=True)
            assert not plan(ws, str(folder)).drifted and ws.identity.bindings("vera") == []
        finally:
            ws.close()
