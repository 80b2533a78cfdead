"""Recommendations on MovieLens, end to end, on the embedded default (``make example-recs`` or
``python examples/recommendation/run.py --home DIR``).

Ratings before 2018 -> validated, tracked ALS training judged on the newest ratings against a
popularity baseline -> gate -> registry (``staging``) -> four-eyes approval -> a served
deployment answering top-10 requests -> a new week of ratings -> the dataset trigger retrains ->
a 5 % canary, sticky per user, that users click on; the controller promotes or rolls it back.
Every stage checks what the home holds, so a second run reuses it and ends in the same state.

Only Slipway's public API is used: ``slipway.connect`` and the workspace's ``data``,
``registry``, ``governance``, ``identity``, ``pipelines``, ``serving`` and ``audit``, plus
``slipway.generate_signing_key``, ``slipway.serve_in_background`` and ``slipway.pipelines.Scheduler``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from drops import DATASET, Project, future, locate, users, version_drop
from traffic import check_answers, click_through, drive_canary

import slipway
from slipway import AlreadyExists, Conflict, NotFound, PermissionDenied, Workspace
from slipway.pipelines import Scheduler

MODEL, DEPLOYMENT, TRIGGER = "movie-recs", "recs", "weekly-recs"


def say(line: str) -> None:
    print(line, flush=True)


def connect(project: Project, user: str = "", key: str = "") -> Workspace:
    return slipway.connect(str(project.home), user=user, signing_key=key, config_path=str(project.config),
                           store_uri="", artifacts_uri="", server_url="", token="")


def open_team(project: Project) -> dict[str, Workspace]:
    """The admin (the OS user), alice (developer, deployer, approver) and bob (approver), each
    with a registered Ed25519 key in the example's home."""
    project.home.mkdir(parents=True, exist_ok=True)
    admin = connect(project)
    name = admin.principal.name

    def key(user: str) -> str:
        path = project.home / "keys" / user
        public = slipway.generate_signing_key(path, f"{user}@recs-example")
        try:
            admin.identity.add_key(user, public)
        except AlreadyExists:
            pass
        return str(path)

    admin_key = key(name)
    existing = {u.name for u in admin.identity.list_users()}
    for user, roles in {"alice": ["developer", "deployer", "approver"], "bob": ["approver"]}.items():
        if user not in existing:
            admin.identity.create_user(user, roles)
    team = {"alice": connect(project, "alice", key("alice")), "bob": connect(project, "bob", key("bob"))}
    admin.close()
    team["admin"] = connect(project, name, admin_key)
    return team


def prepare(team: dict[str, Workspace], project: Project) -> None:
    admin = team["admin"]
    try:
        admin.registry.get_model(MODEL)
    except NotFound:
        admin.registry.create_model(MODEL, "Top-10 movies per user from MovieLens ratings", owner="alice",
                                    risk_tier="medium", tags={"project": "recommendations"})
        admin.governance.set_policy((project.folder / "policy.yaml").read_text(), model=MODEL)
        say(f"created model {MODEL} and its policy")


def run_pipeline(ws: Workspace, project: Project, dataset: str) -> Any:
    run = ws.pipelines.run(project.pipeline_ref, {"dataset": dataset})
    say(f"pipeline run {run.id} on {dataset}: {run.status} (" + ", ".join(
        f"{s.key} {s.status.lower()}" for s in run.steps) + ")")
    return run


def registered(ws: Workspace, run: Any) -> Any | None:
    """The version registered from the run's candidate, or None when the gate refused it."""
    candidate_run = ws.pipelines.output(run.id, "track").run_id
    found = [v for v in ws.registry.list_versions(MODEL) if v.run_id == candidate_run]
    if not found:
        verdict = ws.pipelines.output(run.id, "evaluate_and_bless")
        say(f"not deployed: {getattr(verdict, 'reason', verdict)}")
    return found[0] if found else None


def approve(team: dict[str, Workspace], ref: str) -> None:
    """Alice requested it (the pipeline did); her own approval is refused; bob approves."""
    alice, bob = team["alice"], team["bob"]
    if alice.governance.status(ref).state in ("approved", "deployed"):
        say(f"{ref} is already {alice.governance.status(ref).state}")
        return
    request = next(r for r in alice.governance.list_requests(MODEL, "open") if f"{r.model}/{r.version}" == ref)
    try:
        alice.governance.approve(request.id, "mine")
        raise Conflict(f"alice approved her own request {request.id}: the four-eyes rule did not hold")
    except PermissionDenied as err:
        say(f"alice approving her own request: refused ({err.message})")
    decided = bob.governance.approve(request.id, "NDCG@10 on the held-out future and baseline reviewed")
    if decided.status != "approved":
        raise Conflict(f"approval request {request.id} is {decided.status}: {decided.blocked_by}")
    say(f"bob approved {ref}")


def story(project: Project, team: dict[str, Workspace], canary_timeout: float, worse_canary: bool) -> dict[str, Any]:
    alice, admin = team["alice"], team["admin"]
    prepare(team, project)
    first, created = version_drop(alice, project, 0)
    say(f"{first.ref}: {first.rows:,} ratings" + ("" if created else " (already versioned)"))
    alice.data.infer_schema(first.ref)
    run = run_pipeline(alice, project, first.ref)
    initial = registered(alice, run)
    if initial is None:
        raise Conflict(f"the first model was not blessed; see: slipway pipelines show {run.id}")
    approve(team, initial.ref)
    try:
        alice.registry.resolve(f"{MODEL}@champion")
    except NotFound:
        alice.governance.promote(initial.ref, "champion")
    run_pipeline(alice, project, first.ref)  # approved now: the deploy step runs, the rest is cached
    server = slipway.serve_in_background(admin, DEPLOYMENT)
    try:
        checked = check_answers(admin, server.url, f"{MODEL}@champion", users(project)[:20])
        say(f"{checked['users']} users answered over v2 and /invocations as the model computes in-process; "
            f"unknown users get {checked['fallback'][:5]}...")
        trigger = next((t for t in alice.pipelines.list_triggers() if t.name == TRIGGER), None) or \
            alice.pipelines.on_dataset(TRIGGER, DATASET, project.pipeline_ref)
        second, _ = version_drop(alice, project, 1)
        say(f"{second.ref}: {second.rows:,} ratings (a new week)")
        Scheduler(alice, report=lambda line: say(f"scheduler: {line}")).tick()
        firing = next(f for f in alice.pipelines.list_firings(trigger.id, 1000) if f.event == second.ref)
        retrain = alice.pipelines.get_run(firing.run_id)
        if retrain.status == "QUEUED":
            retrain = alice.pipelines.execute_queued(retrain.id)
        candidate = registered(alice, retrain)
        verdict = "not blessed"
        if candidate is not None:
            approve(team, candidate.ref)
            run_pipeline(alice, project, second.ref)
            final, seen = drive_canary(admin, server.url, DEPLOYMENT, users(project), future(project, 1),
                                       canary_timeout, worse_canary)
            say(f"click-through per variant: {click_through(seen)}; answers [requests, clicks]: {seen}")
            verdict = final.status or "decided earlier"
        champion = admin.registry.resolve(f"{MODEL}@champion").ref
    finally:
        server.stop()
    audit = admin.audit.verify()
    if not audit.ok:
        raise Conflict(f"the audit ledger failed verification: {audit.reason}")
    return {"champion": champion, "canary": verdict, "audit_events": audit.events}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Recommendations on MovieLens, end to end")
    parser.add_argument("--home", type=Path, default=Path(".slipway-recs"), help="folder to record everything in")
    parser.add_argument("--data", type=Path, default=None, help="the MovieLens folder (ratings.csv)")
    parser.add_argument("--canary-timeout", type=float, default=180.0)
    parser.add_argument("--worse-canary", action="store_true", help="users never click the canary's items")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        project = locate(args.home, args.data)
        team = open_team(project)
        try:
            outcome = story(project, team, args.canary_timeout, args.worse_canary)
        finally:
            for ws in team.values():
                ws.close()
    except slipway.SlipwayError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 2
    say(f"done in {time.monotonic() - started:.0f} s: {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
