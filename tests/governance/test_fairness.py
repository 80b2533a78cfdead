"""Fairness figures on the Adult data agree with Fairlearn's own functions; small groups are
flagged and tested; intersections are reported."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
)

from slipway.core.errors import InvalidInput
from slipway.governance.fairness import fairness_report
from tests.support import ADULT


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    frame = pd.read_csv(ADULT, skipinitialspace=True, nrows=6000)
    frame.columns = [c.strip() for c in frame.columns]
    # A transparent rule stands in for a model: predict >50K for long hours and higher education.
    frame["prediction"] = np.where((frame["hours-per-week"] >= 45) & (frame["education-num"] >= 12), ">50K", "<=50K")
    return frame


def test_matches_fairlearn_and_reports_intersections(adult: pd.DataFrame) -> None:
    report = fairness_report(adult["Salary"], adult["prediction"], adult[["sex", "race"]], positive_label=">50K",
                             min_group_size=50)
    sex = report["attributes"]["sex"]
    truth, predicted = (adult["Salary"] == ">50K").astype(int), (adult["prediction"] == ">50K").astype(int)
    assert sex["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(truth, predicted, sensitive_features=adult["sex"]))
    assert sex["disparate_impact_ratio"] == pytest.approx(
        demographic_parity_ratio(truth, predicted, sensitive_features=adult["sex"]))
    assert sex["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(truth, predicted, sensitive_features=adult["sex"]))
    assert sex["disparate_impact_ratio"] < 0.8 and not sex["four_fifths_passed"]
    assert sex["chi2_p_value"] < 0.001
    sizes = {g["group"]: g["size"] for g in sex["groups"]}
    assert sizes == adult["sex"].value_counts().to_dict()

    both = report["attributes"]["sex&race"]
    small = {g["group"] for g in both["groups"] if g["small"]}
    counts = adult.groupby(["sex", "race"]).size()
    assert small == {f"{s} & {r}" for (s, r), n in counts.items() if n < 50} and small
    assert set(both["small_groups"]) == small
    assert all(0 <= (g["fisher_p_value"] or 0) <= 1 for g in both["groups"])
    assert report["rows"] == len(adult)


def test_bad_inputs_are_named(adult: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="never occurs"):
        fairness_report(adult["Salary"], adult["prediction"], adult[["sex"]], positive_label="rich")
    with pytest.raises(InvalidInput, match="same number of rows"):
        fairness_report(adult["Salary"][:10], adult["prediction"], adult[["sex"]], positive_label=">50K")
