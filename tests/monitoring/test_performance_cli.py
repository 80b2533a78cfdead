"""``slipway monitors performance`` on files: a table or ``--json``, realised and/or estimated;
bad input is one line and exit 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "nannyml_cbpe"
Cli = Callable[..., tuple[int, str, str]]



@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    data = pq.read_table(FIXTURE / "data.parquet")
    pq.write_table(data.filter(pc.equal(data["period"], "reference")), tmp_path / "reference.parquet")
    pq.write_table(data.filter(pc.equal(data["period"], "analysis")), tmp_path / "analysis.parquet")
    return tmp_path / "reference.parquet", tmp_path / "analysis.parquet"


NAMES = ["--target", "y_true", "--prediction", "y_pred", "--score", "y_pred_proba", "--chunk-size", "1000"]


def test_realised_beside_estimated_as_json_and_as_a_table(cli: Cli, files: tuple[Path, Path]) -> None:
    reference, analysis = files
    code, out, err = cli("monitors", "performance", analysis, "-r", reference, *NAMES, "--metric", "accuracy",
                         "--replicates", "50", "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["estimator"] == "cbpe" and body["labelled_rows"] == 7500 and len(body["chunks"]) == 8
    first = body["chunks"][0]
    assert first["metric"] == "accuracy" and first["realised"] is not None and first["estimated"] is not None
    assert first["realised_lower"] <= first["realised"] <= first["realised_upper"]
    assert body["alerts"] == sum(c["alert"] for c in body["chunks"]) > 0  # the older people's chunks

    code, out, err = cli("monitors", "performance", analysis, "-r", reference, *NAMES, "--metric", "roc_auc",
                         "--show", "estimated")
    assert code == 0, err
    assert "CBPE" in out and "[7000:7499]" in out and "realised" not in out.split("\n", 3)[2]


def test_realised_only_needs_no_reference(cli: Cli, files: tuple[Path, Path]) -> None:
    _, analysis = files
    code, out, err = cli("monitors", "performance", analysis, *NAMES, "--show", "realised", "--json",
                         "--replicates", "0")
    assert code == 0, err
    body = json.loads(out)
    assert body["estimator"] is None and all(c["estimated"] is None for c in body["chunks"])


@pytest.mark.parametrize("extra, message", [
    (["--chunk-period", "fortnight"], "not a period"),
    (["--metric", "auroc"], "unknown classification metric"),
    (["--show", "everything"], "--show must be"),
])
def test_bad_input_is_one_line_and_exit_2(cli: Cli, files: tuple[Path, Path], extra: list[str], message: str) -> None:
    reference, analysis = files
    code, _out, err = cli("monitors", "performance", analysis, "-r", reference, *NAMES[:6], *extra)
    assert code == 2 and message in " ".join(err.split()) and "Traceback" not in err


def test_a_mistyped_label_with_no_reference_is_refused_not_an_empty_report(cli: Cli, files: tuple[Path, Path]) -> None:
    """Realised only, and the label column named wrong: no row can be scored, so exit 2 naming the
    column and the ones there are (it was exit 0 with every chunk unlabelled and empty)."""
    _, analysis = files
    code, out, err = cli("monitors", "performance", analysis, "--target", "y_tru", *NAMES[2:], "--show", "realised")
    assert code == 2 and "no label column 'y_tru'" in " ".join(err.split()) and "'y_true'" in err, (out, err)
