"""Recommendations on MovieLens, end to end, on the embedded default (``make example-recs`` or
``python examples/recommendation/run.py --home DIR``).

Ratings before 2018 -> validated, tracked ALS training judged on the newest ratings against a
popularity baseline -> gate -> registry (``staging``) -> four-eyes approval -> a served
deployment answering top-10 requests -> a new week of ratings -> the dataset trigger retrains ->
a 5 % canary, sticky per user, that users click on; the controller promotes or rolls it back on
errors, latency and click-through rate -> Prometheus (Debian's ``prometheus``, started here on
loopback with the shipped config and rules) holds the series; with ``--worse-canary`` the CTR-drop
alert fires; ``--screenshot PNG`` draws the Grafana dashboard's data.
Every stage checks what the home holds, so a second run reuses it and ends in the same state.

Only Slipway's public API is used: ``slipway.connect`` and the workspace's ``data``,
``registry``, ``governance``, ``identity``, ``pipelines``, ``serving`` and ``audit``, plus
``slipway.generate_signing_key``, ``slipway.serve_in_background`` and ``slipway.pipelines.Scheduler``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import dashboard
import watch
from drops import DATASET, Project, locate, ratings, users, version_drop
from traffic import check_answers, click_through, drive_canary, liked

import slipway
from slipway import AlreadyExists, Conflict, NotFound, PermissionDenied, Workspace
from slipway.pipelines import Scheduler

MODEL, DEPLOYMENT, TRIGGER = "movie-recs", "recs", "weekly-recs"
CTR_ALERT = "SlipwayCanaryCtrDrop"


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


def deployed_run(ws: Workspace, dataset: str) -> Any | None:
    """A finished run of the pipeline on ``dataset`` whose deploy step ran (the version it made
    is approved and deployed, or was refused): nothing is left to do for that version."""
    for run in ws.pipelines.list_runs(pipeline="retrain", status="SUCCEEDED", limit=1000):
        if run.params.get("dataset") == dataset and run.step("deploy_model").status == "SUCCEEDED":
            return run
    return None


def pipeline_on(ws: Workspace, project: Project, dataset: str) -> Any:
    """The pipeline's run on ``dataset``: the one already recorded when it went all the way (a
    second run of the example reuses it), else a new run."""
    done = deployed_run(ws, dataset)
    if done is None:
        return run_pipeline(ws, project, dataset)
    say(f"pipeline run {done.id} on {dataset} already went through every step (reused)")
    return done


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


def observe(prometheus: watch.Prometheus | None, options: argparse.Namespace, clicks: bool,
            reason: str = "") -> dict[str, Any]:
    """The story's end in Prometheus: the series it holds, the CTR-drop alert (``--worse-canary``,
    once the controller rolled the canary back for ``reason``) and the dashboard's picture
    (``--screenshot``)."""
    if prometheus is None:
        say("Prometheus is not installed (scripts/services.sh installs Debian's prometheus): no monitoring stage")
        return {}
    wanted = {name: expr for name, expr in watch.SERIES.items() if clicks or name != "click-through per variant"}
    held = prometheus.wait_for(wanted, options.prometheus_timeout)
    say(f"Prometheus at {prometheus.url} holds: " + ", ".join(f"{name} {count} series" for name, count in held.items()))
    missing = [name for name, count in held.items() if not count]
    if missing:
        raise Conflict(f"Prometheus holds no {', '.join(missing)} after {options.prometheus_timeout:.0f} s; "
                       f"see {prometheus.log}")
    outcome: dict[str, Any] = {"prometheus": held}
    if options.worse_canary and clicks:
        if "click-through" not in reason:
            raise Conflict(f"the worse canary was not rolled back on its click-through rate ({reason or 'no decision'}), "
                           f"so {CTR_ALERT} is not awaited")
        alert = prometheus.wait_for_alert(CTR_ALERT, options.alert_timeout)
        if alert is None:
            ctr = {r["metric"].get("variant"): r["value"][1] for r in prometheus.query("slipway:ctr:rate5m")}
            raise Conflict(f"{CTR_ALERT} did not fire within {options.alert_timeout:.0f} s of the worse canary "
                           f"(slipway:ctr:rate5m now: {ctr}); see {prometheus.log}")
        say(f"alert {CTR_ALERT} firing: {alert['annotations'].get('summary', '')}")
        outcome["alert"] = f"{CTR_ALERT} firing"
    if options.screenshot is not None:
        drawn = dashboard.render(prometheus, prometheus.started, time.time(), options.screenshot)
        say(f"dashboard data drawn to {options.screenshot}")
        say(f"dashboard panels with data: {json.dumps(drawn)}")
    return outcome


def story(project: Project, team: dict[str, Workspace], options: argparse.Namespace) -> dict[str, Any]:
    alice, admin = team["alice"], team["admin"]
    prepare(team, project)
    first, created = version_drop(alice, project, 0)
    say(f"{first.ref}: {first.rows:,} ratings" + ("" if created else " (already versioned)"))
    alice.data.infer_schema(first.ref)
    run = pipeline_on(alice, project, first.ref)
    initial = registered(alice, run)
    if initial is None:
        raise Conflict(f"the first model was not blessed; see: slipway pipelines show {run.id}")
    approve(team, initial.ref)
    try:
        alice.registry.resolve(f"{MODEL}@champion")
    except NotFound:
        alice.governance.promote(initial.ref, "champion")
    if deployed_run(alice, first.ref) is None:
        run_pipeline(alice, project, first.ref)  # approved now: the deploy step runs, the rest is cached
    server = slipway.serve_in_background(admin, DEPLOYMENT)
    prometheus = None
    try:
        prometheus = watch.start(project.home / "prometheus", server.url, options.alert_for)
        if prometheus is not None:
            say(f"Prometheus scraping {server.url}/metrics every second: {prometheus.url}")
        checked = check_answers(admin, server.url, f"{MODEL}@champion", users(project)[:20])
        say(f"{checked['users']} users answered over v2 and /invocations as the model computes in-process; "
            f"unknown users get {checked['fallback'][:5]}...")
        trigger = next((t for t in alice.pipelines.list_triggers() if t.name == TRIGGER), None) or \
            alice.pipelines.on_dataset(TRIGGER, DATASET, project.pipeline_ref)
        second, created = version_drop(alice, project, 1)
        say(f"{second.ref}: {second.rows:,} ratings (" + ("a new week)" if created else "already versioned)"))
        Scheduler(alice, report=lambda line: say(f"scheduler: {line}")).tick()
        firing = next(f for f in alice.pipelines.list_firings(trigger.id, 1000) if f.event == second.ref)
        retrain = alice.pipelines.get_run(firing.run_id)
        if retrain.status == "QUEUED":
            retrain = alice.pipelines.execute_queued(retrain.id)
        candidate = registered(alice, retrain)
        verdict, clicks, reason = "not blessed", False, ""
        if candidate is not None:
            approve(team, candidate.ref)
            pipeline_on(alice, project, second.ref)
        current = admin.serving.get(DEPLOYMENT)
        if candidate is not None and current.status != "canary":
            verdict = current.status
            say(f"the canary of {candidate.ref} was already decided: {verdict}")
        elif candidate is not None:
            final, seen = drive_canary(admin, server.url, DEPLOYMENT, users(project), liked(ratings(project)),
                                       options.canary_timeout, options.worse_canary)
            clicks = bool(seen)
            say(f"click-through per variant: {click_through(seen)}; answers [requests, clicks]: {seen}")
            verdict = final.status or "decided earlier"
            last = next((h for h in admin.serving.history(DEPLOYMENT) if h.action in ("promote", "rollback")), None)
            if last is not None:
                reason = str(last.details.get("reason", ""))
                say(f"the controller's {last.action}: {reason}")
        champion = admin.registry.resolve(f"{MODEL}@champion").ref
        monitored = observe(prometheus, options, clicks, reason)
    finally:
        if prometheus is not None:
            prometheus.stop()
        server.stop()
    audit = admin.audit.verify()
    if not audit.ok:
        raise Conflict(f"the audit ledger failed verification: {audit.reason}")
    return {"champion": champion, "canary": verdict, "audit_events": audit.events, **monitored}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Recommendations on MovieLens, end to end")
    parser.add_argument("--home", type=Path, default=Path(".slipway-recs"), help="folder to record everything in")
    parser.add_argument("--data", type=Path, default=None, help="the MovieLens folder (ratings.csv)")
    parser.add_argument("--canary-timeout", type=float, default=180.0)
    parser.add_argument("--worse-canary", action="store_true", help="users never click the canary's items")
    parser.add_argument("--screenshot", type=Path, default=None, help="draw the dashboard's data into this PNG")
    parser.add_argument("--prometheus-timeout", type=float, default=180.0, help="seconds to wait for the series")
    parser.add_argument("--alert-timeout", type=float, default=300.0, help="seconds to wait for the CTR-drop alert")
    parser.add_argument("--alert-for", default="", help="the alerts' pending period instead of the shipped rules' "
                        "(e.g. 10s; the tests use it to wait less; the alert expressions stay the shipped ones)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        project = locate(args.home, args.data)
        team = open_team(project)
        try:
            outcome = story(project, team, args)
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
