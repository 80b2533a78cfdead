"""A bank's multi-model platform on the embedded default (``slipway example bank`` or ``make
example-bank``; ``--small`` for a quick run).

The platform team commits the teams' projects (``platform``, ``fraud``, ``credit``) and role bindings
to a Git repository and applies them with ``slipway apply``: each product team's people hold roles
in their own project only -> a seeded card-transaction simulator (Le Borgne et al.'s handbook
design) and the German credit data (applicants linked to simulated card holders) become raw dataset
versions, each in its team's project -> the platform team commits and applies its shared feature
views, the product teams' pipelines, policies and a webhook -> the fraud team and the credit team each
train through their pipeline on point-in-time training sets of the shared features -> the credit
model that fails the fairness gate (by sex and age band) cannot be signed off; the reweighed one
and the fraud model are signed off through ServiceNow changes (a loopback Table API server)
approved by the CAB -> champions -> the deployments and monitors are committed and applied ->
traffic, monitor runs and a fraud canary the controller promotes -> each team's user is refused on
the other team's model, runs and deployment (Python and CLI), both read the shared features, the
platform admin sees everything -> an evidence pack per champion, exported and verified offline.

A second run reuses what the home holds: the same simulated bytes (no new dataset versions),
nothing to apply, cached pipeline steps, champions already signed off.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # run as a script or loaded by 'slipway example bank'

from evidence import export_and_verify  # noqa: E402
from isolation import show_isolation  # noqa: E402
from platform_repo import ACCESS, FIRST, SECOND, apply_platform, commit  # noqa: E402
from production import go_live  # noqa: E402
from raw_data import OWNERS, version_raw_data  # noqa: E402
from signoff import edit_card, promote, record_fairness, sign_off  # noqa: E402
from teams import SERVICENOW_PASSWORDS, Bank, ensure_models, open_bank  # noqa: E402
from ticketing import ServiceNowServer  # noqa: E402
from training import train  # noqa: E402

import slipway  # noqa: E402
from slipway.gitops.plan import plan  # noqa: E402

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "german-credit"


def say(line: str) -> None:
    print(line, flush=True)


def stage(title: str) -> None:
    say(f"\n== {title}")


def write_config(home: Path, snow: ServiceNowServer) -> Path:
    """The home's configuration: ticketed sign-off through this run's loopback ServiceNow, and the
    audit ledger's checkpoint key (an evidence pack's proofs lead to a signed checkpoint). The demo
    keeps the key in the home; a bank keeps it on the signing host only (docs/audit.md)."""
    key = home / "keys" / "audit-signing.pem"
    if not key.exists():
        from slipway.audit.keys import generate_key

        generate_key(key)
    config = home / "slipway.toml"
    config.write_text(f"""# written by examples/bank/run.py for this run's loopback ServiceNow
[audit]
signing_key = "{key}"
public_key = "{key}.pub"
checkpoints = ["{home / 'checkpoints'}"]
origin = "bank-example"

[governance.servicenow]
instance_url = "{snow.url}"
username = "slipway-integration"
password = "{SERVICENOW_PASSWORDS['slipway-integration']}"
tiers = ["high"]
attach_evidence = true
assignment_group = "CAB"
""")
    return config


def apply_stage(bank: Bank, repo: Path, files: list[str], message: str, summary: dict[str, Any], key: str) -> None:
    head, committed = commit(repo, files, message)
    say(f"platform repository {repo}: {'committed' if committed else 'unchanged at'} {head[:12]} ({message})")
    applied, again = apply_platform(bank["platform-ci"], repo)
    changes = [f"{i.action} {i.kind} {i.name}" for i in applied.pending]
    say(f"slipway apply (as platform-ci): {len(changes)} change(s)" + (": " + ", ".join(changes) if changes else
                                                                        ": nothing to change"))
    say(f"slipway apply again: {len(again.pending)} change(s); drifted: {again.drifted}")
    summary["apply"][key] = {"commit": head, "changes": changes, "second_apply_changes": len(again.pending),
                             "drifted": again.drifted}


def reconcile(bank: Bank, repo: Path, summary: dict[str, Any]) -> None:
    """After a release made outside Git (the canary the controller promoted pinned fraud-prod to a
    version), ``apply --check`` reports the drift and applying the folder brings the deployment back
    to what Git says (``fraud@champion``, which is now the promoted version)."""
    check = plan(bank["platform-ci"], str(repo))
    drift = [f"{i.action} {i.kind} {i.name}" for i in check.pending]
    say(f"slipway apply --check: {'DRIFTED: ' + ', '.join(drift) if check.drifted else 'the platform matches Git'}")
    applied, again = apply_platform(bank["platform-ci"], repo)
    changes = [f"{i.action} {i.kind} {i.name}" for i in applied.pending]
    if changes:
        say(f"slipway apply (as platform-ci): {', '.join(changes)}; again: {len(again.pending)} change(s)")
    summary["apply"]["reconcile"] = {"drift": drift, "changes": changes, "second_apply_changes": len(again.pending),
                                     "drifted": again.drifted}


def credit_story(bank: Bank, snow: ServiceNowServer, repo: Path, summary: dict[str, Any]) -> None:
    """The credit team: a baseline that fails the fairness gate, a reweighed model that passes it."""
    import credit_eval

    pipeline = f"{repo}/pipelines/credit.py:train_credit"
    baseline = train(bank, "carl", pipeline, {"applicants": "applicants", "mitigation": "none"})
    fair = train(bank, "carl", pipeline, {"applicants": "applicants", "mitigation": "reweigh"})
    for version, mitigation in ((baseline, "none"), (fair, "reweigh")):
        if bank["vera"].governance.fairness_reports(version.ref):
            say(f"{version.ref} ({mitigation}) has its fairness report from an earlier run")
            continue
        edit_card(bank["carl"], version.ref)
        test, columns, dataset = credit_eval.held_out(bank["carl"], version, mitigation)
        report = record_fairness(bank["vera"], version.ref, test, columns, dataset)
        shown = {a: round(report["attributes"][a]["disparate_impact_ratio"] or 0, 3) for a in ("sex", "age_band")}
        say(f"vera (validator) measured {version.ref} ({mitigation}) on {len(test)} held-out applicants: "
            f"disparate impact ratio {shown}")
    verdict = bank["carl"].governance.check(baseline.ref)
    failed = [o for o in verdict.outcomes if not o.passed]
    say(f"governance check {baseline.ref}: {'passes' if verdict.passed else 'FAILS'}"
        + (": " + "; ".join(f"{o.requirement}: {o.detail}" for o in failed) if failed else ""))
    try:
        bank["carl"].governance.request_approval(baseline.ref, "baseline with personal status and age")
        raise SystemExit(f"{baseline.ref} was put up for sign-off although it fails the fairness gate")
    except slipway.SlipwayError as err:
        say(f"carl asking for sign-off of {baseline.ref}: refused ({type(err).__name__}: {err.message})")
        summary["credit_fairness_gate"] = {"refused": baseline.ref, "error": err.message}
    summary["signoff"]["credit"] = sign_off(bank, snow, "carl", fair.ref, "reweighed credit model: fairness gate passed",
                                            say)
    promote(bank["carl"], fair.ref, say)


def story(home: Path, data: Path, size: str, canary_timeout: float) -> dict[str, Any]:
    summary: dict[str, Any] = {"home": str(home), "size": size, "apply": {}, "signoff": {}}
    with ServiceNowServer(SERVICENOW_PASSWORDS, cab=("rita", "rob")) as snow:
        config = write_config(home, snow)
        bank = open_bank(home, config)
        try:
            repo = home / "platform-repo"
            stage("The platform folder, from Git: the teams' projects and role bindings")
            apply_stage(bank, repo, ACCESS, "The teams' projects and who holds which role where", summary, "access")
            bank.reconnect()  # everyone acts with the roles the folder gave them

            stage("Models and raw data, in each team's project")
            created = ensure_models(bank)
            say("models " + ", ".join(f"{m} (project {m})" for m in created) + " created (risk tier high)" if created
                else "models fraud, credit exist")
            teams = {"platform": bank["platform-ci"], "fraud": bank["fiona"], "credit": bank["carl"]}
            for name, (version, new) in version_raw_data(teams, home, data, size).items():
                rows = f"{version.rows:,} rows" if version.rows is not None else "a file"
                say(f"{version.ref} (project {OWNERS[name]}): {rows}" + ("" if new else " (already versioned)"))

            stage("The platform folder, from Git: features, pipelines, policies, webhooks")
            apply_stage(bank, repo, FIRST, "Shared features, team pipelines, policies and the ops webhook", summary,
                        "first")

            stage("Fraud team: train on the shared features, sign off through ServiceNow")
            fraud = train(bank, "fiona", f"{repo}/pipelines/fraud.py:train_fraud", {"dataset": "transactions"})
            summary["signoff"]["fraud"] = sign_off(bank, snow, "fiona", fraud.ref, "fraud model on shared features", say)
            promote(bank["fiona"], fraud.ref, say)

            stage("Credit team: the fairness gate, then sign-off through ServiceNow")
            credit_story(bank, snow, repo, summary)

            stage("The platform folder, from Git: deployments and monitors")
            apply_stage(bank, repo, FIRST + SECOND, "Production deployments and monitors for fraud and credit",
                        summary, "second")

            stage("Production: traffic, monitors and a fraud canary")
            summary["production"] = go_live(bank, snow, repo, say, canary_timeout, summary)
            reconcile(bank, repo, summary)

            stage("Isolation between the teams")
            summary["isolation"] = show_isolation(bank, home, say)

            stage("Evidence for the regulator")
            champions = {m: str(bank.admin.registry.resolve(f"{m}@champion").ref) for m in ("fraud", "credit")}
            summary["champions"] = champions
            summary["evidence"] = {m: export_and_verify(bank["aude"], ref, home / "evidence", home / "keys", say)
                                   for m, ref in champions.items()}
            verdict = bank.admin.audit.verify()
            if not verdict.ok:
                raise SystemExit(f"the audit ledger failed verification: {verdict.reason}")
            say(f"audit ledger verified: {verdict.events:,} events")
        finally:
            bank.close()
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(".slipway-bank"), help="folder to record everything in")
    parser.add_argument("--data", type=Path, default=DATA, help="the folder holding german.data")
    parser.add_argument("--small", action="store_true", help="a smaller simulation (1,200 customers, 42 days)")
    parser.add_argument("--canary-timeout", type=float, default=120.0,
                        help="seconds of traffic to wait for the canary controller's decision")
    args = parser.parse_args(argv)
    if not (args.data / "german.data").is_file():
        print(f"error: the German credit data is not at {args.data / 'german.data'}; pass --data FOLDER", file=sys.stderr)
        return 2
    home = args.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        summary = story(home, args.data, "small" if args.small else "default", args.canary_timeout)
    except slipway.SlipwayError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 2
    summary["seconds"] = round(time.monotonic() - started, 1)
    (home / "bank-summary.json").write_text(json.dumps(summary, indent=2, default=str))
    say(f"\ndone in {summary['seconds']:.0f} s; summary in {home / 'bank-summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
