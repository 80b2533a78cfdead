"""Ask MLflow the run-search cases of tests/tracking/test_search_mlflow_cases.py, on the same runs.

Run it with the Python of the benchmarks' MLflow venv (``.bench/venv-mlflow``, made by any
``benchmarks/tracking_*.py``); it imports nothing from Slipway::

    .bench/venv-mlflow/bin/python scripts/search_parity_mlflow.py

It prints one line per case, ``same`` or ``DIFF`` (MLflow's answer against the one the test
expects from Slipway), then what MLflow says to the filters and orders Slipway refuses. Exit code 1
if a case differs that the test file does not mark as a Slipway extension.
"""

from __future__ import annotations

import ast
import sys
import tempfile
from pathlib import Path

from mlflow import MlflowClient

CASES_FILE = Path(__file__).resolve().parents[1] / "tests" / "tracking" / "test_search_mlflow_cases.py"
RUNS = {  # the same runs as _seed() in the test file
    "r1": ({"generic_param": "p_val", "common": "same", "p_a": "abc", "path": "C:\\temp", "pct": "100%"},
           {"generic_tag": "t_val", "common": "same", "generic 2": "some value", "p_a": "tag"},
           {"common": 1.0, "measure_a": 1.0, "m_a": 2.0}),
    "r2": ({"generic_param": "another value", "common": "same", "p_b": "ABC", "path": "C:temp", "pct": "100"},
           {"generic_tag": "another value", "common": "same", "generic 2": "another value"},
           {"common": 1.0, "measure_a": 200.0, "m_b": 3.0}),
    "r3": ({"common": "same", "path": "a\\%b", "pct": "x"}, {"common": "same"}, {"common": 1.0}),
}


def _literal(name: str) -> object:
    """A module-level constant of the test file, read without importing it (no Slipway here)."""
    for node in ast.parse(CASES_FILE.read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise KeyError(name)


def _extensions() -> set[str]:
    return {line.split('("', 1)[1].split('",', 1)[0].replace('\\"', '"')
            for line in CASES_FILE.read_text().splitlines() if "# Slipway extension" in line and '("' in line}


def main() -> int:
    folder = tempfile.mkdtemp(prefix="search-parity-")
    client = MlflowClient(tracking_uri=f"sqlite:///{folder}/mlflow.db")
    experiment = client.create_experiment("mlflow-cases")
    names = {}
    for name, (params, tags, metrics) in RUNS.items():
        run_id = client.create_run(experiment, run_name=name).info.run_id
        for key, value in params.items():
            client.log_param(run_id, key, value)
        for key, value in tags.items():
            client.set_tag(run_id, key, value)
        for key, number in metrics.items():
            client.log_metric(run_id, key, number, timestamp=1, step=0)
        client.set_terminated(run_id, "FINISHED")
        names[run_id] = name

    def ask(filter: str, order: list[str] | None = None) -> list[str] | str:
        try:
            runs = client.search_runs([experiment], filter, order_by=order)
        except Exception as err:  # noqa: BLE001 - MLflow's refusal is the answer
            return "refused: " + str(err).splitlines()[0][:160]
        found = [names[r.info.run_id] for r in runs]
        return found if order else sorted(found)

    extensions, unexpected = _extensions(), 0
    for filter, expected in _literal("CASES"):  # type: ignore[attr-defined]
        answer = ask(filter)
        same = answer == sorted(expected)
        unexpected += not same and filter not in extensions
        label = "same" if same else ("DIFF (Slipway extension)" if filter in extensions else "DIFF")
        print(f"{label:26} {filter}   mlflow: {answer}   slipway: {sorted(expected)}")
    for filter, _ in _literal("REFUSED"):  # type: ignore[attr-defined]
        print(f"{'refused by Slipway':26} {filter}   mlflow: {ask(filter)}")
    for order in _literal("REFUSED_ORDERS"):  # type: ignore[attr-defined]
        print(f"{'refused by Slipway':26} order_by={order}   mlflow: {ask('', order)}")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
