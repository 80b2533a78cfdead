"""Every flavor round-trips: logged from a run, loaded back, same predictions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import slipway
from slipway.core.errors import InvalidInput
from slipway.models.predictor import Predictor
from slipway.workspace import Workspace
from tests.models.ai4i import FEATURES, ai4i
from tests.models.pyfunc_model import TorqueThreshold

NUMERIC = FEATURES[1:]


def _numeric(rows: int = 1500) -> tuple[pd.DataFrame, pd.Series]:
    X, y = ai4i()
    # XGBoost refuses '[' and ']' in feature names, so the unit suffixes become plain words.
    renamed = {name: name.replace(" [", "_").replace("]", "").replace(" ", "_").lower() for name in NUMERIC}
    return X[NUMERIC].iloc[:rows].astype("float64").rename(columns=renamed), y.iloc[:rows]


def _round_trip(model: object, example: object, **kwargs: object) -> Predictor:
    with slipway.start_run("flavor"):
        info = slipway.log_model(model, input_example=example, **kwargs)
    loaded = slipway.load_model(info.uri)
    assert loaded.bundle_digest == info.bundle_digest
    return loaded


def test_xgboost_estimator_and_booster(sqlite_ws: Workspace) -> None:
    import xgboost

    X, y = _numeric()
    clf = xgboost.XGBClassifier(n_estimators=15, max_depth=3).fit(X, y)
    loaded = _round_trip(clf, X.head(5))
    assert loaded.flavor == "xgboost"
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X))
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 3}, xgboost.DMatrix(X, label=y), 10)
    loaded = _round_trip(booster, X.head(5))
    np.testing.assert_allclose(loaded.predict(X), booster.predict(xgboost.DMatrix(X)))


def test_lightgbm_estimator_and_booster(sqlite_ws: Workspace) -> None:
    import lightgbm

    X, y = _numeric()
    clf = lightgbm.LGBMClassifier(n_estimators=15, num_leaves=8, verbose=-1).fit(X, y)
    loaded = _round_trip(clf, X.head(5))
    assert loaded.flavor == "lightgbm"
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X))
    booster = lightgbm.train({"objective": "regression", "verbose": -1}, lightgbm.Dataset(X, label=y), 10)
    loaded = _round_trip(booster, X.head(5))
    np.testing.assert_allclose(loaded.predict(X), booster.predict(X))


def test_onnx_from_skl2onnx(sqlite_ws: Workspace) -> None:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    X, y = _numeric()
    array = X.to_numpy(dtype=np.float32)
    clf = LogisticRegression(max_iter=500).fit(array, y)
    onnx_model = to_onnx(clf, array[:1], options={id(clf): {"zipmap": False}})
    loaded = _round_trip(onnx_model, array[:5])
    assert loaded.flavor == "onnx" and loaded.input_kind == "ndarray"
    np.testing.assert_array_equal(loaded.predict(array), clf.predict(array))
    np.testing.assert_allclose(loaded.predict_proba(array), clf.predict_proba(array), atol=1e-5)
    with pytest.raises(InvalidInput, match="expects 5"):
        loaded.predict(array[:, :3])


def test_torchscript(sqlite_ws: Workspace) -> None:
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    X, _ = _numeric(200)
    array = X.to_numpy(dtype=np.float32)
    loaded = _round_trip(net, array[:5])
    assert loaded.flavor == "pytorch"
    with torch.no_grad():
        expected = net(torch.from_numpy(array)).numpy()
    np.testing.assert_allclose(loaded.predict(array), expected, rtol=1e-5)
    np.testing.assert_allclose(loaded.predict(array.astype(np.float64)), expected, rtol=1e-5)  # cast to float32


def test_pyfunc_stores_import_path_not_bytes(sqlite_ws: Workspace) -> None:
    X, _ = ai4i()
    model = TorqueThreshold(limit_watts=9000.0, column_weights={"a": 1.0})
    loaded = _round_trip(model, X.head(5))
    assert loaded.flavor == "pyfunc"
    assert loaded.metadata.flavor_config["class"] == "tests.models.pyfunc_model:TorqueThreshold"
    assert isinstance(loaded.model, TorqueThreshold) and loaded.model.limit_watts == 9000.0
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_pyfunc_refuses_unimportable_class(sqlite_ws: Workspace) -> None:
    class Local:
        def predict(self, frame: pd.DataFrame) -> np.ndarray:
            return np.zeros(len(frame))

    with slipway.start_run("local") as run, pytest.raises(InvalidInput, match="cannot be imported"):
        slipway.log_model(Local())
    assert sqlite_ws.tracking.list_artifacts(run.id) == []


def test_unknown_and_unsupported_models_are_refused(sqlite_ws: Workspace) -> None:
    with slipway.start_run("bad") as run:
        with pytest.raises(InvalidInput, match="unknown model flavor 'sparkml'"):
            slipway.log_model(TorqueThreshold(1.0), flavor="sparkml")
        with pytest.raises(InvalidInput, match="no flavor knows"):
            slipway.log_model(object())
    assert sqlite_ws.tracking.list_artifacts(run.id) == []


def test_saving_and_loading_a_scikit_learn_model_does_not_import_torch(tmp_path: Path) -> None:
    """skops' estimator discovery would import torch through sklearn.externals; ours skips that walk
    and still trusts the same estimator types as a plain ``import skops.io``."""
    code = """
import sys
from pathlib import Path
from sklearn.tree import DecisionTreeClassifier
from slipway.models.flavors.sklearn import SklearnFlavor
folder = Path(sys.argv[1])
config = SklearnFlavor().save(DecisionTreeClassifier().fit([[0], [1]], [0, 1]), folder)
model = SklearnFlavor().load({config["file"]: (folder / config["file"]).read_bytes()}, config, {})
assert list(model.predict([[0], [1]])) == [0, 1]
from skops.io._trusted_types import SKLEARN_ESTIMATOR_TYPE_NAMES
print("torch" in sys.modules, len(SKLEARN_ESTIMATOR_TYPE_NAMES))
"""
    plain = "import sys, skops.io._trusted_types as t; print('torch' in sys.modules, len(t.SKLEARN_ESTIMATOR_TYPE_NAMES))"
    ours = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    theirs = subprocess.run([sys.executable, "-c", plain], capture_output=True, text=True, check=True)
    torch_after_ours, found_by_ours = ours.stdout.split()
    torch_after_plain, found_plain = theirs.stdout.split()
    assert torch_after_ours == "False"
    assert found_by_ours == found_plain and int(found_plain) > 100
    assert torch_after_plain == "True"  # the walk it avoids does import torch here (the dev install has it)
