"""Predictive maintenance on AI4I: validate -> train -> evaluate and bless -> register -> request
approval -> deploy as a canary.

Run it by hand (``dataset`` is ``ai4i`` for the latest version, or ``ai4i@2``)::

    slipway pipelines run examples/predictive_maintenance/pipeline.py:retrain -p dataset=ai4i@1

or let the weekly data trigger run it whenever a new version of ``ai4i`` lands (or a monitor's
alert, ``ws.pipelines.on_alert``, with the alert id as ``alert``; see ``loop.py``)::

    slipway pipelines trigger weekly-retrain examples/predictive_maintenance/pipeline.py:retrain --dataset ai4i
    slipway scheduler

Every model is trained on everything but the newest week and judged on that week (rows are in
time order by ``UDI``), so the gate compares candidate and champion on data neither has seen.
The deploy step (the built-in ``deploy_model``) waits for a human: it runs once the version is
approved (re-run the pipeline after approving; every step before it comes back from the cache).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from slipway.pipelines import StepContext, pipeline, step
from slipway.pipelines.steps import (
    deploy_model,
    evaluate_and_bless,
    register_model,
    request_approval,
    validate_data,
)

HERE = Path(__file__).resolve().parent
FEATURES = ["Type", "Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]",
            "Tool wear [min]"]
LABEL = "Machine failure"
# The evaluation gate: floors on the held-out week, and how much worse than the champion a
# candidate may be on its own held-out week (a week holds ~20 failures, so small moves are noise).
THRESHOLDS = {
    "recall": {"lower": 0.5},
    "f1": {"lower": 0.5, "change_absolute": -0.05},
    "roc_auc": {"lower": 0.9, "change_absolute": -0.03},
}


@step(outputs=("train", "holdout"))
def split_by_time(table: pa.Table, holdout_rows: int = 1000) -> tuple[pa.Table, pa.Table]:
    """Everything but the newest ``holdout_rows`` rows (by UDI, i.e. time) to train, the rest to judge."""
    ordered = table.sort_by("UDI")
    cut = ordered.num_rows - holdout_rows
    if cut < holdout_rows:
        raise ValueError(f"{ordered.num_rows} rows are too few to hold out the newest {holdout_rows}")
    return ordered.slice(0, cut), ordered.slice(cut)


@step
def train(table: pa.Table, n_estimators: int = 150, alarm_threshold: float = 0.3) -> Any:
    """A scikit-learn Pipeline: one-hot product type, a random forest, and an alarm threshold
    below 0.5 because a missed failure costs more than an inspection."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import FixedThresholdClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = table.select([*FEATURES, LABEL]).to_pandas()
    prepare = ColumnTransformer([("type", OneHotEncoder(handle_unknown="ignore"), ["Type"])], remainder="passthrough")
    forest = RandomForestClassifier(n_estimators=n_estimators, random_state=0, n_jobs=1)
    model = Pipeline([("prepare", prepare), ("classify", FixedThresholdClassifier(forest, threshold=alarm_threshold))])
    return model.fit(frame[FEATURES], frame[LABEL])


@step
def evaluate(model: Any, holdout: pa.Table) -> dict[str, float]:
    """Recall, precision, F1 and ROC AUC on the held-out week."""
    from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

    frame = holdout.select([*FEATURES, LABEL]).to_pandas()
    truth = frame[LABEL].to_numpy()
    predicted = model.predict(frame[FEATURES])
    scores = model.predict_proba(frame[FEATURES])[:, 1]
    return {"recall": float(recall_score(truth, predicted, zero_division=0)),
            "precision": float(precision_score(truth, predicted, zero_division=0)),
            "f1": float(f1_score(truth, predicted, zero_division=0)),
            "roc_auc": float(roc_auc_score(truth, scores)),
            "holdout_failures": float(truth.sum())}


@step(local=True)
def track(model: Any, metrics: dict[str, float], train_table: pa.Table, holdout: pa.Table, dataset: str,
          params: dict[str, Any], context: StepContext) -> Any:
    """Log the training run: parameters, metrics, what changed since the previous dataset version
    (recorded as a reference input), and the model with an input example. The version this run
    trained on becomes its input without a call: the platform gives a run started in a step the
    dataset versions its upstream steps read."""
    ws = context.workspace
    version = ws.data.get_version(dataset)
    with context.start_run("train", experiment="predictive-maintenance") as run:
        ws.tracking.log_params({**params, "dataset": version.ref, "train_rows": train_table.num_rows,
                                "holdout_rows": holdout.num_rows})
        ws.tracking.log_metrics(metrics)
        if version.version > 1:  # the data the previous model saw: record it and how much moved
            previous = ws.data.get_version(f"{version.name}@{version.version - 1}")
            ws.tracking.log_input(previous, "reference")
            changes = ws.data.diff(previous.ref, version.ref).tables
            if changes:
                ws.tracking.log_metrics({"data_rows_added": float(changes[0].rows_added or 0),
                                         "data_max_shift": max((s.score for s in changes[0].shifted), default=0.0)})
        example = holdout.select(FEATURES).slice(0, 20).to_pandas()
        return context.log_model(model, "model", input_example=example, run_id=run.id)


@step(local=True)
def document(model_version: Any, context: StepContext) -> Any:
    """Write the model card's human sections (model_card.yaml) that the policy requires."""
    sections = yaml.safe_load((HERE / "model_card.yaml").read_text())
    for section, text in sections.items():
        context.workspace.governance.edit_card(model_version.ref, section, str(text).strip())
    print(f"model card of {model_version.ref}: {', '.join(sections)}")
    return model_version


@step(local=True, cache=False)
def approval_status(request: Any, context: StepContext) -> bool:
    """Whether the version was approved (by someone other than its requester) since it was requested."""
    ref = f"{request.model}/{request.version}"
    state = context.workspace.governance.status(ref).state
    print(f"{ref} is {state}")
    return state in ("approved", "deployed")


@pipeline
def retrain(dataset: str = "ai4i", model_name: str = "ai4i-failure", deployment: str = "maintenance",
            holdout_rows: int = 1000, n_estimators: int = 150, alarm_threshold: float = 0.3, alert: str = "") -> None:
    table = validate_data(dataset)
    train_table, holdout = split_by_time(table, holdout_rows=holdout_rows)
    model = train(train_table, n_estimators=n_estimators, alarm_threshold=alarm_threshold)
    metrics = evaluate(model, holdout)
    candidate = track(model, metrics, train_table, holdout, dataset,
                      {"n_estimators": n_estimators, "alarm_threshold": alarm_threshold, "model": "random_forest"})
    verdict = evaluate_and_bless(metrics, model_name=model_name, thresholds=THRESHOLDS, candidate=candidate)
    version = register_model(candidate, model_name, when=verdict)
    because = f" after monitor alert {alert}" if alert else ""  # set when a monitor's alert started the run
    request = request_approval(document(version), reason=f"retrained on {dataset}{because}")
    # A new deployment serves the version as stable (deployment.yaml gives its SLOs and canary
    # steps); an existing one gets it as a 5% canary; a version it served before is left alone.
    deploy_model(version, deployment, canary_weight=5.0, spec=str(HERE / "deployment.yaml"), redeploy=False,
                 when=approval_status(request))
