"""A ranking model as a pyfunc with NumPy state: stored as .npz, loaded digest-verified, top-k out."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import slipway
from slipway.blobs.manifest import load_manifest
from slipway.core.errors import IntegrityError, InvalidInput
from slipway.models.ranking import TopKRecommender
from slipway.workspace import Workspace
from tests.models.movielens import fitted
from tests.registry.helpers import blob_store

EXAMPLE = pd.DataFrame({"user_id": [1, 2, 999_999], "exclude": ["", "1 3", ""]})


def _logged(model: TopKRecommender) -> slipway.models.records.ModelInfo:  # type: ignore[name-defined]
    with slipway.start_run("recs"):
        return slipway.log_model(model, input_example=EXAMPLE)


def test_state_is_stored_as_npz_and_loaded_back_equal(sqlite_ws: Workspace) -> None:
    model = fitted()
    info = _logged(model)
    loaded = slipway.load_model(info.uri)
    assert loaded.flavor == "pyfunc" and loaded.metadata.flavor_config["state"] == "state.npz"
    users = pd.DataFrame({"user_id": [1, 5, 77, 200], "exclude": ["", "", "260 1196", ""]})
    np.testing.assert_array_equal(loaded.predict(users), model.predict(users))
    np.testing.assert_array_equal(loaded.model.user_factors, model.user_factors)
    assert loaded.predict(users).shape == (4, 10) and loaded.predict(users).dtype == np.int64
    assert loaded.metadata.signature["outputs"][0]["shape"] == [-1, 10]


def test_top_k_matches_the_scores_and_honours_exclusions() -> None:
    model = fitted(k=10)
    ids, scores = model.recommend(1)
    full = model.scores_for(1)
    best = np.sort(full)[::-1][:10]
    np.testing.assert_allclose(scores, best, rtol=1e-6)
    assert list(scores) == sorted(scores, reverse=True)
    excluded, _ = model.recommend(1, exclude=ids[:3])
    assert not set(ids[:3].tolist()) & set(excluded.tolist())
    assert list(excluded[:7]) == list(ids[3:])  # the rest keep their order


def test_unknown_user_gets_the_popularity_ranking() -> None:
    model = fitted()
    ids, scores = model.recommend(123_456_789)
    top = np.sort(model.popularity)[::-1][:10]
    np.testing.assert_allclose(scores * model.popularity.max(), top)  # the ten most rated (ties by item id)
    counts = dict(zip(model.item_ids.tolist(), model.popularity.tolist(), strict=True))
    assert [counts[i] for i in ids.tolist()] == top.tolist()
    assert scores[0] == pytest.approx(1.0)
    outputs = model.predict_outputs(pd.DataFrame({"user_id": [123_456_789, 1], "exclude": ["", ""]}))
    assert outputs["item_ids"].shape == outputs["scores"].shape == (2, 10)
    assert outputs["scores"].dtype == np.float32


def test_a_tampered_state_file_is_refused(sqlite_ws: Workspace, home: Path) -> None:
    info = _logged(fitted())
    store = blob_store(sqlite_ws, home)
    entry = load_manifest(store, info.bundle_digest).by_path()["state.npz"]
    path = store.path_of(entry.digest)
    os.chmod(path, 0o644)
    with open(path, "r+b") as handle:
        handle.seek(entry.size // 2)
        byte = handle.read(1)
        handle.seek(entry.size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(IntegrityError, match=r"state\.npz"):
        slipway.load_model(info.uri)


class _ObjectState(TopKRecommender):
    def state_arrays(self) -> dict[str, np.ndarray]:
        return {**super().state_arrays(), "names": np.array([{"a": 1}], dtype=object)}


def test_object_arrays_are_refused_not_pickled(sqlite_ws: Workspace) -> None:
    model = _ObjectState.from_factors(**fitted().state_arrays())
    with pytest.raises(InvalidInput, match="only numeric arrays"):
        _logged(model)


def test_bad_exclude_and_inconsistent_factors_are_invalid_input() -> None:
    model = fitted()
    with pytest.raises(InvalidInput, match="exclude"):
        model.predict(pd.DataFrame({"user_id": [1], "exclude": ["12 abc"]}))
    arrays = model.state_arrays()
    with pytest.raises(InvalidInput, match="shapes"):
        TopKRecommender.from_state_arrays({**arrays, "popularity": arrays["popularity"][:5]})
