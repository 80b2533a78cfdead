"""A small recommender fitted on the real MovieLens ratings (truncated SVD), for ranking tests."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from slipway.models.ranking import TopKRecommender
from tests.support import MOVIELENS


@functools.cache
def ratings() -> pd.DataFrame:
    return pd.read_csv(MOVIELENS / "ratings.csv")


def fitted(k: int = 10, factors: int = 16, users: int = 200) -> TopKRecommender:
    """Factors of the first ``users`` users' rating matrix; popularity is each item's rating count."""
    frame = ratings()
    frame = frame[frame["userId"] <= users]
    user_ids, user_rows = np.unique(frame["userId"].to_numpy(), return_inverse=True)
    item_ids, item_cols = np.unique(frame["movieId"].to_numpy(), return_inverse=True)
    matrix = np.zeros((len(user_ids), len(item_ids)), dtype=np.float32)
    matrix[user_rows, item_cols] = 1.0
    u, s, vt = np.linalg.svd(matrix, full_matrices=False)
    popularity = np.bincount(item_cols, minlength=len(item_ids)).astype(np.float32)
    assert len(user_ids) == users and factors <= len(s), "the slice must hold every user and enough factors"
    return TopKRecommender.from_factors(user_ids, item_ids, u[:, :factors] * s[:factors], vt[:factors].T,
                                        popularity, k=k)
