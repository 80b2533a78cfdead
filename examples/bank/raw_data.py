"""The raw data of the example, each file recorded as a dataset version in the project of the team
that owns it: the card network's feed (the simulator's customers, terminals and transactions as
``card-transactions``) in ``platform``, the source of the shared features; the labelled
transactions the fraud team trains on in ``fraud``; the German credit data as published and the
applicants (each linked to a simulated card holder) in ``credit``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from simulator import DAY_S, START, SimulationSize, write

from slipway import NotFound, Workspace

SIZES = {"small": SimulationSize(customers=1200, terminals=2400, days=42),
         "default": SimulationSize(customers=3000, terminals=6000, days=63)}
AGE_BANDS = ([0, 25, 35, 50, 200], ["<25", "25-34", "35-49", "50+"])
FEMALE = ("A92", "A95")  # german.doc: personal status and sex A92/A95 are women


def add_once(ws: Workspace, name: str, path: Path, message: str) -> tuple[Any, bool]:
    """The dataset version holding ``path``, added only if the latest version is not already it."""
    try:
        latest = ws.data.get_version(name)
        if ws.data.status(name, path).clean:
            return latest, False
    except NotFound:
        pass
    return ws.data.add(name, path, message=message), True


def applicants(german: Path, customers: pd.DataFrame, transactions: pd.DataFrame, size: SimulationSize) -> pd.DataFrame:
    """German credit applicants, each linked (seeded, without repeats) to a simulated customer who
    used their card, applying on the day after the simulation ends; with ``sex``, ``age_band`` and
    ``good`` (1: repaid, the data's class 1) derived from the data's own columns."""
    frame = pd.read_csv(german, sep=" ")
    active = np.unique(transactions["customer_id"].to_numpy())
    if len(active) < len(frame):
        raise ValueError(f"{len(frame)} applicants need as many simulated customers with transactions, "
                         f"the simulation has {len(active)}")
    rng = np.random.default_rng(size.seed + 1)
    linked = rng.choice(active, size=len(frame), replace=False)
    frame.insert(0, "customer_id", linked)
    frame.insert(0, "applicant_id", np.arange(len(frame)))
    frame["application_time"] = int(START.timestamp()) + size.days * DAY_S
    frame["sex"] = np.where(frame["PERSONAL_STATUS_AND_SEX"].isin(FEMALE), "female", "male")
    frame["age_band"] = pd.cut(frame["AGE"], bins=AGE_BANDS[0], labels=AGE_BANDS[1], right=False).astype(str)
    frame["good"] = (frame["CLASSIFICATION"] == 1).astype(int)
    del customers
    return frame.drop(columns=["CLASSIFICATION"])


# dataset -> the team (project) that versions it
OWNERS = {"customers": "platform", "terminals": "platform", "card-transactions": "platform",
          "transactions": "fraud", "german-credit": "credit", "applicants": "credit"}


def version_raw_data(teams: dict[str, Workspace], home: Path, german_folder: Path, size_name: str) -> dict[str, Any]:
    """Simulate (the same bytes each time for one size), write and version everything, each dataset
    by a member of the team that owns it (``teams``: team -> their workspace, acting in its project);
    returns ``{dataset: (version, created)}``."""
    size = SIZES[size_name]
    raw = home / "raw" / size_name
    paths = write(size, raw)
    tx = pd.read_csv(paths["transactions"])
    customers = pd.read_csv(paths["customers"])
    apps = applicants(german_folder / "german.data", customers, tx, size)
    paths["applicants"] = raw / "applicants.csv"
    apps.to_csv(paths["applicants"], index=False)
    what = f"simulated ({size.customers} customers, {size.terminals} terminals, {size.days} days, seed {size.seed})"
    paths["card-transactions"] = paths["transactions"]
    messages = {"customers": f"customer profiles, {what}", "terminals": f"terminal locations, {what}",
                "card-transactions": f"the card network's transactions with injected fraud, {what}",
                "transactions": f"card transactions with fraud labels, for the fraud model; {what}",
                "german-credit": "Statlog German credit data (UCI), as published",
                "applicants": "German credit applicants linked to simulated customers (seeded)"}
    paths["german-credit"] = german_folder / "german.data"
    return {name: add_once(teams[OWNERS[name]], name, paths[name], messages[name]) for name in OWNERS}
