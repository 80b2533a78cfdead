"""The Predictor: every batch kind gives the same answer; bad batches get precise errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pytest

import slipway
from slipway.core.errors import IntegrityError, InvalidInput
from slipway.models.bundle import METADATA_FILE, save_bundle
from slipway.models.files import read_folder
from slipway.models.predictor import predictor_from_files
from slipway.workspace import Workspace
from tests.models.ai4i import FEATURES, ai4i, fitted_pipeline


@pytest.fixture(scope="module")
def bundle_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    X, _ = ai4i()
    folder = tmp_path_factory.mktemp("bundle")
    save_bundle(fitted_pipeline(), folder, input_example=X.head(20))
    return read_folder(folder)


def test_bundle_describes_the_model(bundle_files: dict[str, bytes]) -> None:
    meta = orjson.loads(bundle_files[METADATA_FILE])
    assert meta["flavor"] == "sklearn" and meta["format_version"] == 1
    assert [c["name"] for c in meta["signature"]["inputs"]] == FEATURES
    assert meta["signature"]["inputs"][0]["type"] == "string"
    assert meta["signature"]["outputs"] == [{"type": "tensor", "dtype": "int64", "shape": [-1]}]
    assert any(r.startswith("scikit-learn==") for r in meta["requirements"])
    assert any(r.startswith("skops==") for r in meta["requirements"])
    assert meta["python_version"].count(".") == 2 and meta["input_example"] == "input_example.parquet"
    assert meta["flavor_config"]["trusted_types"] == ["sklearn.tree._tree.Tree"]


def test_every_batch_kind_predicts_the_same(bundle_files: dict[str, bytes]) -> None:
    X, _ = ai4i()
    predictor = predictor_from_files(bundle_files)
    expected = fitted_pipeline().predict(X)
    np.testing.assert_array_equal(predictor.predict(X), expected)
    np.testing.assert_array_equal(predictor.predict(pa.Table.from_pandas(X)), expected)
    np.testing.assert_array_equal(predictor.predict(X.head(50).to_dict("records")), expected[:50])
    np.testing.assert_array_equal(predictor.predict(X[list(reversed(FEATURES))].assign(extra=1)), expected)
    np.testing.assert_array_equal(predictor.predict_raw(X), expected)
    as_ints = X.assign(**{"Torque [Nm]": X["Torque [Nm]"].round().astype("int64")})
    assert predictor.predict(as_ints).shape == expected.shape  # integers widen to double
    example = predictor.input_example()
    assert example is not None and list(example.columns) == FEATURES and len(example) == 20


def test_check_input_names_the_problem(bundle_files: dict[str, bytes]) -> None:
    X, _ = ai4i()
    predictor = predictor_from_files(bundle_files)
    with pytest.raises(InvalidInput, match="missing column 'Type'"):
        predictor.check_input(X.drop(columns=["Type"]))
    with pytest.raises(InvalidInput, match="'Type' has type long but the model's signature expects string"):
        predictor.check_input(X.assign(Type=1))
    with pytest.raises(InvalidInput, match=r"'Rotational speed \[rpm\]' has type double .* expects long"):
        predictor.check_input(X.assign(**{"Rotational speed [rpm]": 1.5}))
    with pytest.raises(InvalidInput, match="2-D with 6 columns"):
        predictor.predict(np.zeros((3, 4)))
    with pytest.raises(InvalidInput, match="a batch must be"):
        predictor.predict("not a batch")
    # Unchecked, the model's own error comes back as InvalidInput with its cause chained.
    with pytest.raises(InvalidInput, match="the sklearn model failed in predict: ValueError") as caught:
        predictor.predict(X.drop(columns=["Type"]), check=False)
    assert isinstance(caught.value.__cause__, ValueError)


def test_tampered_trusted_types_are_refused(bundle_files: dict[str, bytes]) -> None:
    meta = orjson.loads(bundle_files[METADATA_FILE])
    meta["flavor_config"]["trusted_types"].append("os.system")
    tampered = {**bundle_files, METADATA_FILE: orjson.dumps(meta)}
    with pytest.raises(IntegrityError, match=r"'os\.system'"):
        predictor_from_files(tampered)


def test_log_model_without_a_run_starts_and_ends_one(sqlite_ws: Workspace, tmp_path: Path) -> None:
    X, _ = ai4i()
    info = slipway.log_model(fitted_pipeline(), "maint-model", input_example=X.head(5))
    assert slipway.active_run() is None
    run = sqlite_ws.tracking.get_run(info.run_id)
    assert run.status == "FINISHED"
    assert [a.path for a in sqlite_ws.tracking.list_artifacts(info.run_id)] == ["maint-model"]
    assert info.uri == f"runs:/{info.run_id}/maint-model" and info.version is None
    with pytest.raises(InvalidInput, match="runs:/"):
        slipway.load_model("runs:/onlyid")
