"""A top-k ranking model served like any other: user id in, ranked item ids and scores out.

:class:`TopKRecommender` holds learned factors as NumPy arrays (user factors, item factors, the
ids they stand for) and a popularity ranking; it is a pyfunc model whose state is stored in the
bundle's ``state.npz`` (never pickled) and loaded from the digest-verified bytes. Any
factorisation library (``implicit``'s ALS, a matrix factorisation of your own) produces those
arrays; nothing of the library is needed to serve.

``predict`` takes a batch with an integer ``user_id`` column and a string ``exclude`` column
(space-separated item ids not to recommend, e.g. those already seen; ``""`` for none) and returns
an ``int64`` array of shape ``(rows, k)``: the top-k item ids, best first. ``predict_outputs``
returns the named outputs ``item_ids`` (INT64) and ``scores`` (FP32), which the inference server
exposes as two Open Inference Protocol v2 outputs. A user the model has never seen gets the
popularity ranking (scored by normalised popularity), not an error.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from slipway.core.errors import InvalidInput


class TopKRecommender:
    """Scores ``user_factors[u] @ item_factors.T``; unknown users get ``popularity`` order."""

    named_outputs: ClassVar[dict[str, str]] = {"item_ids": "INT64", "scores": "FP32"}

    def __init__(self, k: int = 10) -> None:
        if int(k) < 1:
            raise InvalidInput(f"k must be at least 1, got {k}")
        self.k = int(k)
        self.user_ids = np.empty(0, dtype=np.int64)
        self.item_ids = np.empty(0, dtype=np.int64)
        self.user_factors = np.empty((0, 0), dtype=np.float32)
        self.item_factors = np.empty((0, 0), dtype=np.float32)
        self.popularity = np.empty(0, dtype=np.float32)
        self._user_row: dict[int, int] = {}
        self._item_col: dict[int, int] = {}

    @classmethod
    def from_factors(cls, user_ids: Any, item_ids: Any, user_factors: Any, item_factors: Any, popularity: Any,
                     k: int = 10) -> TopKRecommender:
        model = cls(k)
        model._set(user_ids=user_ids, item_ids=item_ids, user_factors=user_factors, item_factors=item_factors,
                   popularity=popularity)
        return model

    def _set(self, **arrays: Any) -> None:
        self.user_ids = np.asarray(arrays["user_ids"], dtype=np.int64)
        self.item_ids = np.asarray(arrays["item_ids"], dtype=np.int64)
        self.user_factors = np.asarray(arrays["user_factors"], dtype=np.float32)
        self.item_factors = np.asarray(arrays["item_factors"], dtype=np.float32)
        self.popularity = np.asarray(arrays["popularity"], dtype=np.float32)
        n_items = len(self.item_ids)
        if self.user_factors.shape[0] != len(self.user_ids) or self.item_factors.shape[0] != n_items or \
                len(self.popularity) != n_items or self.user_factors.shape[1:] != self.item_factors.shape[1:]:
            raise InvalidInput(
                f"factor shapes do not agree: {len(self.user_ids)} users x {self.user_factors.shape}, "
                f"{n_items} items x {self.item_factors.shape}, popularity {self.popularity.shape}")
        if n_items < self.k:
            raise InvalidInput(f"the model knows {n_items} items, fewer than k={self.k}")
        self._user_row = {int(u): i for i, u in enumerate(self.user_ids)}
        self._item_col = {int(v): i for i, v in enumerate(self.item_ids)}

    # pyfunc state: numbers only, stored as state.npz
    def state_arrays(self) -> dict[str, np.ndarray]:
        return {"user_ids": self.user_ids, "item_ids": self.item_ids, "user_factors": self.user_factors,
                "item_factors": self.item_factors, "popularity": self.popularity}

    @classmethod
    def from_state_arrays(cls, arrays: dict[str, np.ndarray], k: int = 10) -> TopKRecommender:
        missing = sorted({"user_ids", "item_ids", "user_factors", "item_factors", "popularity"} - set(arrays))
        if missing:
            raise InvalidInput(f"the recommender's state has no {', '.join(missing)}")
        model = cls(k)
        model._set(**arrays)
        return model

    def get_params(self) -> dict[str, Any]:
        return {"k": self.k}

    def knows(self, user_id: int) -> bool:
        return int(user_id) in self._user_row

    def scores_for(self, user_id: int) -> np.ndarray:
        """The score of every item for ``user_id`` (normalised popularity for an unknown user)."""
        row = self._user_row.get(int(user_id))
        if row is None:
            top = float(self.popularity.max()) if len(self.popularity) else 1.0
            return self.popularity / (top or 1.0)
        return self.item_factors @ self.user_factors[row]

    def recommend(self, user_id: int, exclude: Any = ()) -> tuple[np.ndarray, np.ndarray]:
        """(item ids, scores) of the top k for one user, best first, without the ``exclude`` items."""
        scores = self.scores_for(user_id).astype(np.float32, copy=True)
        banned = [self._item_col[int(i)] for i in exclude if int(i) in self._item_col]
        if banned:
            scores[banned] = -np.inf
        top = np.argpartition(-scores, self.k - 1)[:self.k]
        top = top[np.lexsort((self.item_ids[top], -scores[top]))]  # ties broken by item id: deterministic
        return self.item_ids[top], scores[top]

    def predict_outputs(self, batch: Any) -> dict[str, np.ndarray]:
        frame = batch if isinstance(batch, pd.DataFrame) else pd.DataFrame(batch)
        if "user_id" not in frame.columns:
            raise InvalidInput(f"the recommender needs a user_id column, got {list(frame.columns)}")
        excludes = frame["exclude"].tolist() if "exclude" in frame.columns else [""] * len(frame)
        ids = np.empty((len(frame), self.k), dtype=np.int64)
        scores = np.empty((len(frame), self.k), dtype=np.float32)
        for row, (user, banned) in enumerate(zip(frame["user_id"].tolist(), excludes, strict=True)):
            ids[row], scores[row] = self.recommend(int(user), _parse_exclude(banned))
        return {"item_ids": ids, "scores": scores}

    def predict(self, batch: Any) -> np.ndarray:
        return self.predict_outputs(batch)["item_ids"]


def _parse_exclude(value: Any) -> list[int]:
    if value is None or value == "":
        return []
    try:
        return [int(part) for part in str(value).replace(",", " ").split()]
    except ValueError as err:
        raise InvalidInput(f"exclude must be item ids separated by spaces, got {str(value)[:60]!r}") from err
