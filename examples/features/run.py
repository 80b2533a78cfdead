"""The feature store on MovieLens, end to end, on the embedded default (``make example-features``
or ``python examples/features/run.py --home DIR``).

Raw ratings and movies become dataset versions -> ``repo/`` (user and movie features over
trailing windows, an on-demand view, two feature services) is planned and applied -> two
point-in-time training sets, stored as dataset versions with lineage back to the raw data -> a
"will the user rate this 4 or more" classifier and a rating regressor, trained, tracked and
registered -> the online store is materialised -> online lookups equal the offline join at the
same time -> ``impact`` lists what a change to ``user_stats`` would affect.

A second run reuses the datasets, definitions and training sets it finds (same content, same
version) and registers the models again.
Only Slipway's public API is used: ``slipway.connect``, ``slipway.start_run``/``log_input``/
``log_metrics``/``log_model`` and the workspace's ``data``, ``features`` and ``registry``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, roc_auc_score

import slipway
from slipway import NotFound, Workspace

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("MOVIELENS_DIR", HERE.parents[2] / "shared" / "data" / "movielens-small"))
SPLIT = pd.Timestamp("2016-01-01", tz="UTC")  # train on ratings before, evaluate on ratings after
SAMPLE_EVERY = 4  # one rating in four becomes a training row (the whole table takes longer here)


def say(line: str) -> None:
    print(line, flush=True)


def add_once(ws: Workspace, name: str, path: Path) -> str:
    """The dataset version holding ``path``, added only if the latest version is not already it."""
    try:
        latest = ws.data.get_version(name)
        if ws.data.status(name, path).clean:
            say(f"{latest.ref}: {path.name} (already versioned)")
            return str(latest.ref)
    except NotFound:
        pass
    version = ws.data.add(name, path, message=f"MovieLens {path.name}")
    say(f"{version.ref}: {path.name}, {version.rows:,} rows")
    return str(version.ref)


def entity_rows(ratings: Path) -> pd.DataFrame:
    """The training rows: a sample of ratings, each asking for features one second before it was
    given (so its own rating is not in them), with both labels."""
    frame = pd.read_csv(ratings)
    frame = frame.iloc[::SAMPLE_EVERY].reset_index(drop=True)
    return pd.DataFrame({
        "user_id": frame["userId"], "movie_id": frame["movieId"],
        "event_timestamp": pd.to_datetime(frame["timestamp"] - 1, unit="s", utc=True),
        "rating": frame["rating"], "liked": (frame["rating"] >= 4).astype(int)})


def features_of(frame: pd.DataFrame, label: str) -> list[str]:
    skip = {"user_id", "movie_id", "event_timestamp", "rating", "liked", label}
    return [c for c in frame.columns if c not in skip]


def train(ws: Workspace, service: str, entities: pd.DataFrame) -> None:
    """Build the service's training set (a dataset version), fit its model, register it."""
    result = ws.features.training_set(service, entities, message=f"{len(entities):,} sampled ratings")
    version = result.version
    say(f"training set {version.ref}: {version.rows:,} rows, lineage to the feature views and the raw datasets")
    table = result.to_pandas()
    label = "liked" if service == "likes" else "rating"
    columns = features_of(table, label)
    table[columns] = table[columns].astype("float64")  # nulls (no history yet) are NaN; the models take them
    before = table["event_timestamp"] < SPLIT
    fit, held = table[before], table[~before]
    with slipway.start_run(f"train-{service}", experiment="movielens-features"):
        slipway.log_input(version)
        if service == "likes":
            model = HistGradientBoostingClassifier(max_iter=120, learning_rate=0.1, random_state=0)
            model.fit(fit[columns], fit[label])
            score = float(roc_auc_score(held[label], model.predict_proba(held[columns])[:, 1]))
            metrics = {"auc": score, "base_rate": float(held[label].mean())}
        else:
            model = HistGradientBoostingRegressor(max_iter=120, learning_rate=0.1, random_state=0)
            model.fit(fit[columns], fit[label])
            baseline = float(mean_absolute_error(held[label], np.full(len(held), fit[label].mean())))
            metrics = {"mae": float(mean_absolute_error(held[label], model.predict(held[columns]))),
                       "mae_global_mean": baseline}
        slipway.log_metrics({**metrics, "train_rows": float(len(fit)), "test_rows": float(len(held))})
        info = slipway.log_model(model, input_example=fit[columns].head(5), registered_model_name=f"movielens-{service}")
    shown = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items())
    say(f"model movielens-{service}/{info.version}: {shown} on {len(held):,} ratings from 2016 on")


def check_online(ws: Workspace, entities: pd.DataFrame, end: pd.Timestamp) -> None:
    """Online values at ``end`` equal the offline join for the same entities at the same time."""
    recent = entities.sort_values("event_timestamp", ascending=False)
    pairs = recent.drop_duplicates("user_id").head(5)[["user_id", "movie_id"]].reset_index(drop=True)
    keys = pairs.to_dict("records")
    at_ms = int(end.timestamp() * 1000)
    online = ws.features.online("likes", keys, at_ms=at_ms)
    # The service's views by name: the same join, returned and not stored as a training set.
    offline = ws.features.training_set(["user_stats", "movie_stats", "affinity"],
                                       pairs.assign(event_timestamp=end)).to_pandas()
    for name in online.features:
        got, want = online.values[name], offline[name].tolist()
        same = all((pd.isna(g) and pd.isna(w)) if g is None or pd.isna(g) or pd.isna(w) else bool(np.isclose(g, w))
                   for g, w in zip(got, want, strict=True))
        if not same:
            raise SystemExit(f"online {name} {got} differs from the offline join {want}")
    shown = {k: [round(x, 3) for x in v[:3]] for k, v in online.values.items()
             if k in ("mean_rating_90d", "movie_mean_rating", "taste_gap")}
    say(f"online lookup of {len(keys)} (user, movie) pairs as of {end.date()}: the same {len(online.features)} "
        f"values as the offline join; e.g. {shown}")
    now = ws.features.online("likes", keys[:1])
    say(f"the same lookup today: user_stats values are {now.status['mean_rating_90d'][0]} "
        "(older than the view's 365-day TTL: never served as fresh)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=".slipway-features", help="where the embedded workspace lives")
    args = parser.parse_args(argv)
    home = Path(args.home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    ws = slipway.connect(str(home), store_uri="", artifacts_uri="", server_url="", token="")
    try:
        add_once(ws, "ratings", DATA / "ratings.csv")
        add_once(ws, "movies", DATA / "movies.csv")

        plan = ws.features.plan(HERE / "repo")
        pending = [c for c in plan.changes if c.action not in ("unchanged", "kept")]
        say(f"plan: {len(pending)} change(s): " + (", ".join(f"{c.action} {c.kind} {c.name}" for c in pending) or "none"))
        if pending:
            ws.features.apply(HERE / "repo")
            say("applied (one transaction, audited)")

        entities = entity_rows(DATA / "ratings.csv")
        say(f"entity table: {len(entities):,} ratings (one in {SAMPLE_EVERY}), features asked one second before each")
        train(ws, "likes", entities)
        train(ws, "rating", entities)

        end = pd.Timestamp(pd.read_csv(DATA / "ratings.csv", usecols=["timestamp"])["timestamp"].max(), unit="s",
                           tz="UTC")
        for run in ws.features.materialize(end=end.to_pydatetime()):
            say(f"materialised {run.view}@{run.view_version}: {run.rows:,} keys up to {end.date()}")
        profile = ws.features.profile("user_stats")["columns"]["mean_rating_90d"]
        say(f"profile of what user_stats last wrote: mean_rating_90d min {profile['min']:.2f}, "
            f"mean {profile['mean']:.2f}, max {profile['max']:.2f}, nulls {profile['nulls']}")
        check_online(ws, entities, end)

        impact = ws.features.impact("user_stats")
        say("changing user_stats would affect: " + "; ".join(f"{kind}: {', '.join(ids[:4])}"
                                                             for kind, ids in sorted(impact.items())))
        stale = [s.name for s in ws.features.status() if s.stale]
        say(f"features ls: {len(stale)} view(s) STALE today ({', '.join(stale)}): the data ends in 2018")
    finally:
        ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
