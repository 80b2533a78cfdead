"""A seeded, vectorised credit-card transaction simulator after Le Borgne et al.'s *Reproducible
Machine Learning for Credit Card Fraud Detection - Practical Handbook* (chapter "Transaction data
simulator").

The handbook's design, kept: customers at uniform locations on a 100 x 100 grid, each with a
spending profile (mean amount uniform in [5, 100], standard deviation half of it, mean number of
transactions per day uniform in [0, 4]); terminals at uniform locations; a customer uses the
terminals within radius ``r`` (5) of home. Each day a customer makes Poisson(mean) transactions at
times drawn around noon (normal, sd 20,000 s, kept inside the day) with amounts from their normal
(a negative draw is replaced by a uniform in [0, 2 x mean]), each at one of their terminals chosen
at random. Three fraud scenarios are injected:

1. every transaction above 220 is fraudulent;
2. each day two terminals are compromised: every transaction on them in the next 28 days is fraud;
3. each day three customers' credentials leak: over the next 14 days a third of their transactions
   (here: each with probability 1/3) has its amount multiplied by 5 and is fraud.

Ours is NumPy throughout (no loop over customers or transactions; a k-d tree finds terminals near
customers) and one ``numpy.random.Generator`` seeded once makes every draw, so the same arguments
give byte-identical CSV files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

START = pd.Timestamp("2018-04-01", tz="UTC")  # the handbook's first day
DAY_S = 86_400


@dataclass(frozen=True)
class SimulationSize:
    customers: int
    terminals: int
    days: int
    radius: float = 5.0
    seed: int = 0


def customer_profiles(rng: np.random.Generator, n: int) -> pd.DataFrame:
    mean = rng.uniform(5, 100, n)
    return pd.DataFrame({"customer_id": np.arange(n), "x_customer": rng.uniform(0, 100, n),
                         "y_customer": rng.uniform(0, 100, n), "mean_amount": mean, "std_amount": mean / 2,
                         "mean_nb_tx_per_day": rng.uniform(0, 4, n)})


def terminal_profiles(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame({"terminal_id": np.arange(n), "x_terminal": rng.uniform(0, 100, n),
                         "y_terminal": rng.uniform(0, 100, n)})


def nearby_terminals(customers: pd.DataFrame, terminals: pd.DataFrame, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """CSR form of each customer's terminals within ``radius``: (offsets, terminal ids)."""
    tree = cKDTree(terminals[["x_terminal", "y_terminal"]].to_numpy())
    found = tree.query_ball_point(customers[["x_customer", "y_customer"]].to_numpy(), r=radius)
    counts = np.fromiter((len(f) for f in found), dtype=np.int64, count=len(found))
    flat = np.fromiter((t for f in found for t in sorted(f)), dtype=np.int64, count=int(counts.sum()))
    return np.concatenate([[0], np.cumsum(counts)]), flat


def transactions(rng: np.random.Generator, customers: pd.DataFrame, offsets: np.ndarray, flat: np.ndarray,
                 days: int) -> pd.DataFrame:
    """Every customer's transactions over ``days`` (customers without a terminal nearby make none)."""
    n_terms = np.diff(offsets)
    per_day = rng.poisson(customers["mean_nb_tx_per_day"].to_numpy()[:, None], size=(len(customers), days))
    per_day[n_terms == 0] = 0
    cust, day = np.nonzero(per_day)
    reps = per_day[cust, day]
    cust, day = np.repeat(cust, reps), np.repeat(day, reps)
    seconds = np.rint(rng.normal(DAY_S / 2, 20_000, len(cust))).astype(np.int64)
    inside = (seconds > 0) & (seconds < DAY_S)  # the handbook drops draws outside the day
    cust, day, seconds = cust[inside], day[inside], seconds[inside]
    mean, std = customers["mean_amount"].to_numpy()[cust], customers["std_amount"].to_numpy()[cust]
    amount = rng.normal(mean, std)
    negative = amount < 0
    amount[negative] = rng.uniform(0, mean[negative] * 2)
    choice = np.floor(rng.random(len(cust)) * n_terms[cust]).astype(np.int64)
    frame = pd.DataFrame({"tx_time": int(START.timestamp()) + day * DAY_S + seconds, "customer_id": cust,
                          "terminal_id": flat[offsets[cust] + choice], "tx_amount": np.round(amount, 2),
                          "tx_time_days": day})
    frame = frame.sort_values(["tx_time", "customer_id"], kind="stable").reset_index(drop=True)
    frame.insert(0, "transaction_id", np.arange(len(frame)))
    return frame


def add_frauds(rng: np.random.Generator, tx: pd.DataFrame, n_customers: int, n_terminals: int, days: int) -> pd.DataFrame:
    """The handbook's three scenarios (``tx_fraud``, ``tx_fraud_scenario`` 0-3), in its order."""
    fraud = np.zeros(len(tx), dtype=np.int64)
    scenario = np.zeros(len(tx), dtype=np.int64)
    first = tx["tx_amount"].to_numpy() > 220
    fraud[first], scenario[first] = 1, 1
    day, term, cust = tx["tx_time_days"].to_numpy(), tx["terminal_id"].to_numpy(), tx["customer_id"].to_numpy()
    compromised = np.zeros((n_terminals, days + 28), dtype=bool)
    for d in range(days):  # a loop over days (tens), never over rows
        for t in rng.choice(n_terminals, size=2, replace=False):
            compromised[t, d:d + 28] = True
    second = compromised[term, day]
    fraud[second], scenario[second] = 1, 2
    leaked = np.zeros((n_customers, days + 14), dtype=bool)
    for d in range(days):
        for c in rng.choice(n_customers, size=3, replace=False):
            leaked[c, d:d + 14] = True
    third = leaked[cust, day] & (rng.random(len(tx)) < 1 / 3)
    amount = tx["tx_amount"].to_numpy().copy()
    amount[third] = np.round(amount[third] * 5, 2)
    fraud[third], scenario[third] = 1, 3
    return tx.assign(tx_amount=amount, tx_fraud=fraud, tx_fraud_scenario=scenario)


def simulate(size: SimulationSize) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(customers, terminals, transactions), the same for the same ``size``."""
    rng = np.random.default_rng(size.seed)
    customers = customer_profiles(rng, size.customers)
    terminals = terminal_profiles(rng, size.terminals)
    offsets, flat = nearby_terminals(customers, terminals, size.radius)
    tx = transactions(rng, customers, offsets, flat, size.days)
    tx = add_frauds(rng, tx, size.customers, size.terminals, size.days)
    return customers, terminals, tx


def write(size: SimulationSize, folder: Path) -> dict[str, Path]:
    """Simulate and write ``customers.csv``, ``terminals.csv`` and ``transactions.csv`` (rounded,
    fixed formats: the files' bytes depend only on ``size``)."""
    folder.mkdir(parents=True, exist_ok=True)
    customers, terminals, tx = simulate(size)
    paths = {"customers": folder / "customers.csv", "terminals": folder / "terminals.csv",
             "transactions": folder / "transactions.csv"}
    customers.round(4).to_csv(paths["customers"], index=False, float_format="%.4f")
    terminals.round(4).to_csv(paths["terminals"], index=False, float_format="%.4f")
    tx.to_csv(paths["transactions"], index=False, float_format="%.2f")
    return paths
