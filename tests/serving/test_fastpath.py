"""The compiled predict path gives exactly scikit-learn's predictions, or steps aside."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import ExtraTreesRegressor, RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from slipway.serving.model import served_from_object
from slipway.serving.options import ServeOptions
from tests.serving.asgi import in_process, make_app
from tests.serving.helpers import FEATURES

pytestmark = pytest.mark.fast_path  # tests the shortcut itself (CONTRIBUTING.md, "Fast paths")
SIGNATURE = {"inputs": [{"name": "Type", "type": "string"}, *[{"name": c, "type": "double"} for c in FEATURES[1:]]]}


def _columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {c: frame[c].to_numpy(dtype=object if c == "Type" else None) for c in FEATURES}


@pytest.mark.parametrize("final", [
    RandomForestClassifier(20, max_depth=8, random_state=0), DecisionTreeClassifier(random_state=0),
    RandomForestRegressor(10, random_state=0), ExtraTreesRegressor(10, max_depth=6, random_state=0)])
@pytest.mark.parametrize("unknown", ["ignore", "error"])
def test_compiled_trees_match_sklearn_exactly(ai4i_data, final, unknown) -> None:
    features, label = ai4i_data
    final = clone(final)
    target = label if is_classifier(final) else features["Torque [Nm]"] * 2 + label
    encode = ColumnTransformer([("type", OneHotEncoder(handle_unknown=unknown), ["Type"]),
                                ("scale", StandardScaler(), ["Air temperature [K]", "Torque [Nm]"])],
                               remainder="passthrough")
    pipeline = Pipeline([("encode", encode), ("model", final)]).fit(features, target)
    served = served_from_object("m", "1", pipeline, SIGNATURE, example=features.head(20))
    assert served.fast is not None
    columns = _columns(features)
    got = served.fast(columns, len(features))
    expected = pipeline.predict(features)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
    # One-row requests (their own way through the trees) agree with scikit-learn too.
    for i in range(0, len(features), 10):
        one = served.fast({c: v[i:i + 1] for c, v in columns.items()}, 1)
        assert one.dtype == expected.dtype and one.tolist() == expected[i:i + 1].tolist(), i


def test_one_row_node_decisions_equal_the_level_walk(ai4i_data) -> None:
    from slipway.serving.fastpath import _Forest

    features, label = ai4i_data
    numeric = features[FEATURES[1:]].to_numpy(dtype=np.float32)
    forest = RandomForestClassifier(30, max_depth=12, random_state=1).fit(numeric, label)
    packed = _Forest([e.tree_ for e in forest.estimators_], 2)
    assert packed.decide_all_nodes
    for i in range(0, len(numeric), 7):
        row = np.ascontiguousarray(numeric[i:i + 1])
        packed.decide_all_nodes = True
        by_nodes = packed.leaf_values(row)
        packed.decide_all_nodes = False
        by_levels = packed.leaf_values(row)
        assert by_nodes.shape == (1, 30, 2) and np.array_equal(by_nodes, by_levels), i
        leaves = [e.tree_.apply(row)[0] for e in forest.estimators_]
        assert np.array_equal(by_nodes[0], np.stack([e.tree_.value[leaf, 0] for e, leaf in
                                                     zip(forest.estimators_, leaves, strict=True)])), i


def test_models_it_does_not_know_use_their_own_predict(ai4i_data) -> None:
    features, label = ai4i_data
    numeric = features[FEATURES[1:]]
    model = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=200))]).fit(numeric, label)
    served = served_from_object("m", "1", model, SIGNATURE["inputs"][1:], example=numeric.head(20))
    assert served.fast is None


def test_inputs_the_fast_path_cannot_treat_go_to_the_model(ai4i_data) -> None:
    """An unknown category with handle_unknown="error" gets scikit-learn's own error (a 500 naming it)."""
    features, label = ai4i_data
    encode = ColumnTransformer([("type", OneHotEncoder(handle_unknown="error"), ["Type"])], remainder="passthrough")
    pipeline = Pipeline([("encode", encode), ("model", RandomForestClassifier(5, random_state=0))]).fit(features, label)
    served = served_from_object("m", "1", pipeline, SIGNATURE, example=features.head(20))
    assert served.fast is not None

    async def scenario() -> tuple[int, str, list[int]]:
        app = make_app(None, ServeOptions(payload_log=False), models=[served])
        async with in_process(app) as client:
            row = features.iloc[[0]].values.tolist()[0]
            bad = await client.post("/invocations", json={"dataframe_split": {"columns": FEATURES,
                                                                              "data": [["X", *row[1:]]]}})
            good = await client.post("/invocations", json={"dataframe_split": {"columns": FEATURES,
                                                                               "data": [row]}})
            return bad.status_code, bad.json()["error"], good.json()["predictions"]

    status, error, predictions = asyncio.run(scenario())
    assert status == 500 and "unknown categor" in error.lower()
    assert predictions == pipeline.predict(features.iloc[[0]]).tolist()
