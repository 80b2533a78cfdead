"""Recommendations on MovieLens: validate -> train (ALS + popularity baseline) -> evaluate on a
time-based holdout -> gate -> register (``staging``) -> request approval -> deploy as a canary.

Run it by hand (``dataset`` is ``ratings`` for the latest version, or ``ratings@2``)::

    slipway pipelines run examples/recommendation/pipeline.py:retrain -p dataset=ratings@1

or let the dataset trigger run it once per new weekly version of ``ratings``::

    slipway pipelines trigger weekly-recs examples/recommendation/pipeline.py:retrain --dataset ratings

The newest ``holdout_fraction`` of the version's ratings (by timestamp) is held out: each model
is trained on the past and judged on what its users rated next, so candidate, baseline and
champion are compared on a future none of them has seen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from slipway.models.ranking import TopKRecommender
from slipway.pipelines import StepContext, pipeline, step
from slipway.pipelines.steps import (
    deploy_model,
    evaluate_and_bless,
    register_model,
    request_approval,
    validate_data,
)

HERE = Path(__file__).resolve().parent
COLUMNS = {"userId": "int", "movieId": "int", "rating": "float", "timestamp": "int"}
K = 10
# The gate: NDCG@10 no more than 0.02 below the champion's (about 30 holdout users carry on
# rating in MovieLens-small's newest tenth, so smaller moves are noise), a floor, and within 0.06
# of the popularity baseline (popularity is a strong baseline on this time split; the margin is
# reported on every run as ndcg_lift_over_popularity), while showing at least twice the catalogue.
THRESHOLDS = {
    "ndcg_at_10": {"lower": 0.02, "change_absolute": -0.02},
    "ndcg_lift_over_popularity": {"lower": -0.06},
    "coverage": {"lower": 0.015},
}


@step(outputs=("train", "holdout", "report"))
def check_ratings(table: pa.Table, holdout_fraction: float = 0.1) -> tuple[pa.Table, pa.Table, dict[str, float]]:
    """Schema, ranges, duplicate ratings; then split by time and count holdout users and items
    never seen in training (they cannot be scored by the factors, only by the fallback)."""
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"ratings lack the columns {missing}; they have {table.column_names}")
    frame = table.select(list(COLUMNS)).to_pandas()
    bad = frame[(frame["rating"] < 0.5) | (frame["rating"] > 5.0) | (frame["userId"] <= 0) | (frame["movieId"] <= 0)]
    if len(bad):
        raise ValueError(f"{len(bad)} ratings are out of range (rating 0.5-5, positive ids), e.g. {bad.iloc[0].to_dict()}")
    duplicates = int(frame.duplicated(["userId", "movieId"]).sum())
    if duplicates:
        raise ValueError(f"{duplicates} (userId, movieId) pairs are rated twice")
    frame = frame.sort_values(["timestamp", "userId", "movieId"], kind="stable")
    cut = int(len(frame) * (1 - holdout_fraction))
    train, holdout = frame.iloc[:cut], frame.iloc[cut:]
    report = {"rows": float(len(frame)), "train_rows": float(len(train)), "holdout_rows": float(len(holdout)),
              "unseen_users": float(len(set(holdout["userId"]) - set(train["userId"]))),
              "unseen_items": float(len(set(holdout["movieId"]) - set(train["movieId"])))}
    print(f"{len(frame):,} ratings valid; holdout {len(holdout):,} from {holdout['timestamp'].min()}: "
          f"{report['unseen_users']:.0f} new users, {report['unseen_items']:.0f} new items")
    return (pa.Table.from_pandas(train, preserve_index=False), pa.Table.from_pandas(holdout, preserve_index=False),
            report)


def _interactions(train: pa.Table) -> tuple[np.ndarray, np.ndarray, Any]:
    """User ids, item ids and the user x item matrix of ratings of 3.5 and up (implicit feedback)."""
    from scipy.sparse import csr_matrix

    frame = train.to_pandas()
    users, rows = np.unique(frame["userId"].to_numpy(), return_inverse=True)
    items, cols = np.unique(frame["movieId"].to_numpy(), return_inverse=True)
    liked = (frame["rating"].to_numpy() >= 3.5).astype(np.float32)
    matrix = csr_matrix((liked, (rows, cols)), shape=(len(users), len(items)), dtype=np.float32)
    matrix.eliminate_zeros()
    return users, items, matrix


@step
def train(table: pa.Table, factors: int = 16, iterations: int = 10, regularization: float = 0.1,
          alpha: float = 5.0) -> TopKRecommender:
    """``implicit``'s ALS on liked ratings; the factors become a servable TopKRecommender."""
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    users, items, matrix = _interactions(table)
    with threadpool_limits(1, "blas"):
        als = AlternatingLeastSquares(factors=factors, iterations=iterations, regularization=regularization,
                                      alpha=alpha, random_state=0, use_gpu=False, num_threads=2)
        als.fit(matrix, show_progress=False)
    popularity = np.asarray(matrix.sum(axis=0)).ravel()
    return TopKRecommender.from_factors(users, items, als.user_factors, als.item_factors, popularity, k=K)


def popularity_baseline(model: TopKRecommender) -> TopKRecommender:
    """The same catalogue and popularity, no user factors: everyone gets the most liked items."""
    empty = np.empty((0, model.item_factors.shape[1]), dtype=np.float32)
    return TopKRecommender.from_factors([], model.item_ids, empty, model.item_factors, model.popularity, k=model.k)


def ranking_metrics(model: TopKRecommender, train: pa.Table, holdout: pa.Table) -> dict[str, float]:
    """NDCG@10, recall@10, MAP@10 over holdout users known at training time (their future liked
    items are the truth; items they rated in training are excluded), and catalogue coverage."""
    past = train.to_pandas().groupby("userId")["movieId"].agg(list).to_dict()
    future = holdout.to_pandas()
    future = future[future["rating"] >= 3.5].groupby("userId")["movieId"].agg(set).to_dict()
    discounts = 1.0 / np.log2(np.arange(2, K + 2))
    ndcg, recall, average_precision, shown = [], [], [], set()
    for user, truth in future.items():
        if user not in past:
            continue
        ids, _ = model.recommend(user, exclude=past[user])
        hits = np.array([item in truth for item in ids.tolist()], dtype=float)
        shown.update(ids.tolist())
        ideal = discounts[:min(len(truth), K)].sum()
        ndcg.append(float((hits * discounts).sum() / ideal))
        recall.append(float(hits.sum() / min(len(truth), K)))
        precision_at = np.cumsum(hits) / np.arange(1, K + 1)
        average_precision.append(float((precision_at * hits).sum() / min(len(truth), K)))
    if not ndcg:
        raise ValueError("no holdout user was seen in training: nothing to evaluate")
    return {"ndcg_at_10": float(np.mean(ndcg)), "recall_at_10": float(np.mean(recall)),
            "map_at_10": float(np.mean(average_precision)), "coverage": len(shown) / len(model.item_ids),
            "evaluated_users": float(len(ndcg))}


@step
def evaluate(model: TopKRecommender, train_table: pa.Table, holdout: pa.Table) -> dict[str, float]:
    """The candidate's and the popularity baseline's ranking metrics on the held-out future."""
    metrics = ranking_metrics(model, train_table, holdout)
    baseline = ranking_metrics(popularity_baseline(model), train_table, holdout)
    metrics.update({f"popularity_{k}": v for k, v in baseline.items() if k != "evaluated_users"})
    metrics["ndcg_lift_over_popularity"] = metrics["ndcg_at_10"] - baseline["ndcg_at_10"]
    print(", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    return metrics


@step(local=True)
def track(model: TopKRecommender, metrics: dict[str, float], report: dict[str, float], dataset: str,
          params: dict[str, Any], context: StepContext) -> Any:
    """Log the training run (parameters, validation report, metrics) and the model with an example."""
    import pandas as pd

    ws = context.workspace
    version = ws.data.get_version(dataset)
    with context.start_run("train", experiment="recommendations") as run:
        ws.tracking.log_params({**params, "dataset": version.ref})
        ws.tracking.log_metrics({**metrics, **{f"data_{k}": v for k, v in report.items()}})
        example = pd.DataFrame({"user_id": [int(u) for u in model.user_ids[:3]] + [0],
                                "exclude": ["", "", "1 2 3", ""]})
        return context.log_model(model, "model", input_example=example, run_id=run.id)


@step(local=True, cache=False)
def approval_status(request: Any, context: StepContext) -> bool:
    """Whether the version was approved (by someone other than its requester) since it was requested."""
    ref = f"{request.model}/{request.version}"
    state = context.workspace.governance.status(ref).state
    print(f"{ref} is {state}")
    return state in ("approved", "deployed")


@pipeline
def retrain(dataset: str = "ratings", model_name: str = "movie-recs", deployment: str = "recs",
            holdout_fraction: float = 0.1, factors: int = 16, iterations: int = 10) -> None:
    table = validate_data(dataset)
    train_table, holdout, report = check_ratings(table, holdout_fraction=holdout_fraction)
    model = train(train_table, factors=factors, iterations=iterations)
    metrics = evaluate(model, train_table, holdout)
    candidate = track(model, metrics, report, dataset, {"factors": factors, "iterations": iterations,
                                                         "model": "implicit-als", "k": K})
    verdict = evaluate_and_bless(metrics, model_name=model_name, thresholds=THRESHOLDS, candidate=candidate)
    version = register_model(candidate, model_name, alias="staging", when=verdict)
    request = request_approval(version, reason=f"retrained on {dataset}")
    # A new deployment serves the version as stable; an existing one gets it as a 5 % canary,
    # sticky per user (deployment.yaml), which the controller steps 5 -> 25 -> 50 -> 100.
    deploy_model(version, deployment, canary_weight=5.0, spec=str(HERE / "deployment.yaml"), redeploy=False,
                 when=approval_status(request))
