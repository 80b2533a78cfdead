"""The data the UI tests look at: runs to filter and compare (one with a long metric series),
users in each role with tokens, a credit model awaiting approval, and untrusted text carrying XSS
payloads in tags, a param, a model card section and a dataset column name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from slipway.workspace import Workspace, open_workspace
from tests.governance.credit import register_credit
from tests.support import make_settings

# Each would set window.__xss if a browser ever ran it.
XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "<script>window.__xss=1</script>"
XSS_SVG = '"><svg onload="window.__xss=1">'
XSS_LINK = "[click me](javascript:window.__xss=1)"
LONG_SERIES = 30_000
USERS = {"alice": ["developer"], "bob": ["approver"], "vera": ["viewer"], "dave": ["developer", "deployer"],
         "audrey": ["auditor"]}


@dataclasses.dataclass
class Story:
    home: Path
    tokens: dict[str, str]
    runs: dict[str, str]  # run name -> id
    model: str
    version: int
    request_id: str


def build(home: Path) -> Story:
    settings = make_settings(home)
    ws = open_workspace(settings)
    try:
        tokens = {}
        for name, roles in USERS.items():
            ws.identity.create_user(name, roles)
            tokens[name] = ws.identity.create_token(name, "ui tests").token
        runs = _runs(ws)
        version, _ = register_credit(ws, "credit", mitigated=True)
        ref = f"credit/{version}"
        ws.governance.edit_card(ref, "intended_use", f"Scores **credit** applications. {XSS_IMG} {XSS_LINK}")
        ws.governance.edit_card(ref, "limitations", f"Trained on German credit data only. {XSS_SCRIPT}")
        ws.data.add("xss-columns", pd.DataFrame({XSS_SVG: [1, 2, 3], "plain": ["a", "b", "a"]}))
    finally:
        ws.close()
    # alice (a developer) asks for approval: only someone else with the approver role may decide.
    alice = open_workspace(make_settings(home, user="alice"))
    try:
        request = alice.governance.request_approval(ref, "release candidate for the credit desk")
    finally:
        alice.close()
    return Story(home, tokens, runs, "credit", version, request.id)


def _runs(ws: Workspace) -> dict[str, str]:
    ids = {}
    for index, (model, auc) in enumerate([("rf", 0.91), ("rf", 0.86), ("lr", 0.79), ("xgb", 0.93), ("lr", 0.83),
                                          ("xgb", 0.88)]):
        with ws.tracking.start_run(f"{model}-{index}", experiment="churn") as run:
            ws.tracking.log_params({"model": model, "depth": index + 2})
            ws.tracking.log_metrics({"auc": auc, "f1": auc - 0.1})
            ws.tracking.set_tags({"team": "risk" if index % 2 else "growth"})
            ids[f"{model}-{index}"] = run.id
    with ws.tracking.start_run("long-training", experiment="churn") as run:
        points = [("loss", 1.0 / (1 + step / 500) + (0.5 if step == 12_345 else 0.0), step, 1_700_000_000_000 + step)
                  for step in range(LONG_SERIES)]
        for start in range(0, LONG_SERIES, 10_000):
            ws.tracking.log_batch(run.id, points[start:start + 10_000])
        ws.tracking.log_params({"model": "mlp", "depth": 9})
        ws.tracking.log_metrics({"auc": 0.9})
        ids["long-training"] = run.id
    # Run names are checked to letters, digits, '_', '.', '-' by the store; tags and params are free text.
    with ws.tracking.start_run("xss-run", experiment="churn") as run:
        ws.tracking.set_tags({"note": XSS_SCRIPT, "owner": XSS_IMG})
        ws.tracking.log_params({"model": XSS_SVG})
        ws.tracking.log_metrics({"auc": 0.5})
        ids["xss"] = run.id
    return ids
