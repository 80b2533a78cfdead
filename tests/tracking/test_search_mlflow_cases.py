"""Run search against cases ported from MLflow's own tests (tests/store/tracking/test_sqlalchemy_store.py:
test_search_params, test_search_tags, test_search_metrics, test_search_attrs, test_search_runs_run_name,
test_search_runs_start_time_alias, the IS NULL cases), on SQLite, PostgreSQL and remote.

Each expectation is what MLflow 3.17.2 answers on the same runs (checked side by side with a script
against an MLflow SQLite store); the three marked "extension" are refused by MLflow and answered by
Slipway (IN on metrics and tags, IS NULL on metrics).
"""

from __future__ import annotations

import pytest

from slipway.core.errors import InvalidInput
from slipway.workspace import Workspace


def _seed(ws: Workspace) -> dict[str, str]:
    tracking = ws.tracking
    runs = {
        "r1": ({"generic_param": "p_val", "common": "same", "p_a": "abc", "path": "C:\\temp", "pct": "100%"},
               {"generic_tag": "t_val", "common": "same", "generic 2": "some value", "p_a": "tag"},
               {"common": 1.0, "measure_a": 1.0, "m_a": 2.0}),
        "r2": ({"generic_param": "another value", "common": "same", "p_b": "ABC", "path": "C:temp", "pct": "100"},
               {"generic_tag": "another value", "common": "same", "generic 2": "another value"},
               {"common": 1.0, "measure_a": 200.0, "m_b": 3.0}),
        "r3": ({"common": "same", "path": "a\\%b", "pct": "x"},
               {"common": "same"},
               {"common": 1.0}),
    }
    ids = {}
    for name, (params, tags, metrics) in runs.items():
        with tracking.start_run(name, experiment="mlflow-cases") as run:
            tracking.log_batch(run.id, metrics=[(k, v, 0, 1) for k, v in metrics.items()], params=params, tags=tags)
        ids[name] = run.id
    return ids


def _found(ws: Workspace, ids: dict[str, str], filter: str, order: list[str] | None = None) -> list[str]:
    names = {v: k for k, v in ids.items()}
    return [names[r.id] for r in ws.tracking.search_runs(filter, ["mlflow-cases"], order).runs]


CASES = [
    # test_search_params
    ("params.generic_param = 'p_val'", {"r1"}),
    ("params.generic_param != 'p_val'", {"r2"}),  # r3 has no such param: no match, not even for !=
    ("params.random_bad_name = 'temp'", set()),
    ("params.common = 'same'", {"r1", "r2", "r3"}),
    ("params.p_a LIKE 'a%'", {"r1"}),
    ("params.p_a LIKE 'A%'", set()),
    ("params.p_a ILIKE 'A%'", {"r1"}),
    ("params.p_b != 'ABC'", set()),
    ("params.\"generic_param\" = 'p_val'", {"r1"}),
    ("params.`generic_param` = 'p_val'", {"r1"}),
    # test_search_tags
    ("tags.generic_tag = 't_val'", {"r1"}),
    ("tags.\"generic 2\" = 'another value'", {"r2"}),
    ("tags.`generic 2` LIKE '%value'", {"r1", "r2"}),
    ("tags.generic_tag != 't_val'", {"r2"}),
    ("tags.p_a ILIKE 'TA%'", {"r1"}),
    # backquoted entities
    ("`metric`.measure_a > 100", {"r2"}),
    ("`tags`.`generic 2` = 'some value'", {"r1"}),
    ("`params`.generic_param = 'p_val'", {"r1"}),
    # test_search_metrics
    ("metrics.common = 1.0", {"r1", "r2", "r3"}),
    ("metrics.measure_a > 0", {"r1", "r2"}),
    ("metrics.measure_a >= 200", {"r2"}),
    ("metrics.measure_a != 1.0", {"r2"}),  # r3 has no measure_a: no match
    ("metrics.m_a <= 2 and metrics.common = 1", {"r1"}),
    ("metrics.measure_a IN (1, 200)", {"r1", "r2"}),  # Slipway extension: IN on metrics
    # test_search_attrs, test_search_runs_run_name, test_search_runs_start_time_alias
    ("attributes.status = 'FINISHED'", {"r1", "r2", "r3"}),
    ("attributes.status != 'FINISHED'", set()),
    ("attributes.run_name = 'r1'", {"r1"}),
    ("attributes.`Run name` = 'r1'", {"r1"}),
    ("attributes.`run name` = 'r2'", {"r2"}),
    ("attributes.`Run Name` LIKE 'r%'", {"r1", "r2", "r3"}),
    ("tags.mlflow.runName = 'r3'", {"r3"}),
    ("tags.`mlflow.runName` != 'r3'", {"r1", "r2"}),
    ("tags.\"mlflow.runName\" IN ('r1', 'r3')", {"r1", "r3"}),  # Slipway extension: IN on tags
    ("attributes.created > 0", {"r1", "r2", "r3"}),
    ("attributes.Created > 0", {"r1", "r2", "r3"}),
    # IS NULL / IS NOT NULL on params and tags
    ("params.p_a IS NULL", {"r2", "r3"}),
    ("params.p_a IS NOT NULL", {"r1"}),
    ("tags.generic_tag IS NULL", {"r3"}),
    ("tags.generic_tag is not null and params.p_b IS NULL", {"r1"}),
    ("metrics.measure_a IS NULL", {"r3"}),  # Slipway extension: IS NULL on metrics
    # Backslashes are literal characters, as in MLflow (item 14)
    ("params.path = 'C:\\temp'", {"r1"}),
    ("params.path = 'C:temp'", {"r2"}),
    ("params.path LIKE 'C:\\%'", {"r1"}),
    ("params.path LIKE '%\\%%'", {"r1", "r3"}),  # a backslash anywhere, not an escaped %
    ("params.path ILIKE 'c:\\T%'", {"r1"}),
    ("params.pct LIKE '%\\%'", set()),  # no value ends in a backslash; '100%' is not matched
    ("params.pct LIKE '100%'", {"r1", "r2"}),
]


def test_mlflow_search_cases(workspace: Workspace) -> None:
    ids = _seed(workspace)
    wrong = {f: (sorted(found), sorted(expected)) for f, expected in CASES
             if (found := set(_found(workspace, ids, f))) != expected}
    assert wrong == {}  # filter -> (found, expected)
    assert _found(workspace, ids, "", ["tags.mlflow.runName DESC"]) == ["r3", "r2", "r1"]
    assert _found(workspace, ids, "", ["attributes.`Run name`"]) == ["r1", "r2", "r3"]


REFUSED = [
    # ordering comparisons on text attributes and dataset fields (item 16), naming the comparator
    ("attributes.status < 'x'", "cannot use <"),
    ("attributes.run_name >= 'r2'", "cannot use >="),
    ("attributes.user > 'a'", "cannot use >"),
    ("tags.mlflow.runName <= 'r2'", "cannot use <="),
    ("datasets.name > 'a'", "cannot use >"),
    ("datasets.digest < 'a'", "cannot use <"),
    ("datasets.context >= 'train'", "cannot use >="),
    ("attributes.artifact_uri LIKE '%x%'", "content-addressed"),
    ("params.a IS 'x'", "expected NULL or NOT NULL"),
]
REFUSED_ORDERS = [
    ["metrics.auc", "metrics.auc DESC"],
    ["params.model DESC", "params.model DESC"],
    ["attributes.run_name", "tags.mlflow.runName DESC"],
    ["attributes.start_time", "attributes.created"],
]


def test_meaningless_filters_and_orders_are_refused(workspace: Workspace) -> None:
    for filter, message in REFUSED:
        with pytest.raises(InvalidInput, match=message):
            workspace.tracking.search_runs(filter)
    for order in REFUSED_ORDERS:  # duplicate or contradictory keys
        with pytest.raises(InvalidInput, match="twice"):
            workspace.tracking.search_runs("", order_by=order)
