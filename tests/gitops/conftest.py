"""The platform folder the GitOps tests apply: a deployment, a monitor, a schedule and a trigger
running a pipeline file, a webhook with a referenced secret, a policy and a feature repository,
in a real Git repository; and the admin workspace (an approved model, a dataset) it applies to."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from slipway.models.logging import log_model
from slipway.workspace import Workspace, open_workspace
from tests.support import make_settings

PIPELINE = textwrap.dedent('''
    from slipway.pipelines import pipeline, step


    @step
    def count(dataset: str, n: int) -> int:
        return n


    @pipeline
    def retrain(dataset: str = "txns@1", n: int = 3):
        count(dataset, n)
''')

PLATFORM = textwrap.dedent('''
    kind: deployment
    name: credit-prod
    variants:
      - {name: stable, model: credit/1}
    ---
    kind: monitor
    name: txns-quality
    watch: txns
    reference: txns@1
    checks:
      - {name: quality, type: quality}
    ''')

PIPELINES = textwrap.dedent('''
    kind: schedule
    name: nightly-retrain
    pipeline: pipelines/retrain.py:retrain
    cron: "0 2 * * *"
    params: {n: 5}
    ---
    kind: trigger
    name: retrain-on-data
    event: dataset
    target: txns
    pipeline: pipelines/retrain.py:retrain
    ---
    kind: webhook
    name: cab
    url: https://hooks.example.com/slipway/T0KEN
    events: [approval.requested, alias.moved]
    secret_env: CAB_WEBHOOK_SECRET
    ''')

GOVERNANCE = textwrap.dedent('''
    kind: policy
    tier: high
    policy:
      metrics:
        accuracy: {min: 0.7}
      fairness:
        disparate_impact_ratio: {min: 0.8, attribute: sex}
      approvals: 2
    ''')

FEATURES = textwrap.dedent('''
    kind: entity
    name: customer
    join_keys: [customer_id]
    ---
    kind: feature_view
    name: spending
    entities: [customer]
    source: {path: data/spending.parquet}
    ttl: 30d
    features: {amount_sum: float64, txn_count: int64}
    ''')


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.strip()


def commit(folder: Path, message: str) -> str:
    git(folder, "add", "-A")
    git(folder, "-c", "user.name=platform", "-c", "user.email=platform@example.com", "commit", "-qm", message)
    return git(folder, "rev-parse", "HEAD")


@pytest.fixture
def platform(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Workspace, Path]]:
    """An admin workspace with an approved model and a dataset, and a platform folder in Git."""
    monkeypatch.setenv("CAB_WEBHOOK_SECRET", "s" * 32)
    admin = open_workspace(make_settings(home))
    admin.identity.create_user("alice", ["developer"])
    alice = open_workspace(make_settings(home, user="alice"))
    frame = pd.DataFrame({"amount": np.linspace(1, 100, 60), "count": np.arange(60) % 7})
    admin.data.add("txns", frame)
    model = LogisticRegression().fit(frame, (frame["amount"] > 50).astype(int))
    log_model(alice, model, "model", input_example=frame.head(2), registered_model_name="credit")
    admin.governance.approve(alice.governance.request_approval("credit/1", "first").id, "ok")

    folder = tmp_path / "platform"
    (folder / "pipelines").mkdir(parents=True)
    (folder / "features" / "data").mkdir(parents=True)
    (folder / "pipelines" / "retrain.py").write_text(PIPELINE)
    (folder / "platform.yaml").write_text(PLATFORM)
    (folder / "pipelines.yaml").write_text(PIPELINES)
    (folder / "features" / "views.yaml").write_text(FEATURES)
    (folder / "governance.yaml").write_text(GOVERNANCE)
    pd.DataFrame({"customer_id": [1, 2], "event_timestamp": pd.to_datetime(["2026-01-01", "2026-01-02"]),
                  "amount_sum": [10.0, 20.0], "txn_count": [1, 2]}).to_parquet(folder / "features/data/spending.parquet")
    git(folder, "init", "-q")
    yield admin, folder
    alice.close()
    admin.close()
