"""Authoring, caching and control flow on small pipelines (embedded SQLite)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from slipway.core.errors import Conflict, InvalidInput, NotFound
from slipway.pipelines import pipeline, step
from slipway.pipelines.cache import code_digest
from slipway.pipelines.serializers import deserialize, serialize
from slipway.workspace import Workspace
from tests.pipelines import flows


@step
def make(n: int) -> list[int]:
    print(f"making {n}")
    return list(range(n))


@step
def add_up(values: list[int]) -> int:
    return sum(values)


@step
def constant() -> str:
    return "same"


@step
def combine(total: int, label: str) -> dict[str, object]:
    return {"total": total, "label": label}


@pipeline
def small(n: int = 5, label: str = "x") -> None:
    combine(add_up(make(n)), label)
    constant()


def test_second_run_is_fully_cached_and_a_parameter_reruns_only_downstream(sqlite_ws: Workspace) -> None:
    first = sqlite_ws.pipelines.run(small)
    assert first.status == "SUCCEEDED"
    assert first.executed == ["make", "add_up", "combine", "constant"]
    assert sqlite_ws.pipelines.output(first.id, "combine") == {"total": 10, "label": "x"}

    second = sqlite_ws.pipelines.run(small)
    assert second.executed == [] and set(second.cached) == {"make", "add_up", "combine", "constant"}
    assert [s.outputs for s in second.steps] == [s.outputs for s in first.steps]

    changed_label = sqlite_ws.pipelines.run(small, {"label": "y"})
    assert changed_label.executed == ["combine"]
    changed_n = sqlite_ws.pipelines.run(small, {"n": "6"})  # CLI strings become the default's type
    assert changed_n.params["n"] == 6
    assert changed_n.executed == ["make", "add_up", "combine"]
    assert sqlite_ws.pipelines.logs(changed_n.id, "make") == {"make": "making 6\n"}
    assert sqlite_ws.audit.verify().ok


def test_equal_content_hits_the_cache_whatever_produced_it(sqlite_ws: Workspace) -> None:
    @step
    def numbers(kind: str) -> list[int]:
        return [1, 2, 3] if kind in ("a", "b") else [4]

    @step
    def doubled(values: list[int]) -> list[int]:
        return [v * 2 for v in values]

    @pipeline
    def content(kind: str = "a") -> None:
        doubled(numbers(kind))

    assert sqlite_ws.pipelines.run(content).executed == ["numbers", "doubled"]
    # A different parameter gives the same bytes: the downstream key is the same, so it is reused.
    assert sqlite_ws.pipelines.run(content, {"kind": "b"}).executed == ["numbers"]


def test_code_digest_ignores_formatting_but_not_logic() -> None:
    def one(x):  # noqa: ANN001, ANN202
        return x + 1

    def one_reformatted(x):  # noqa: ANN001, ANN202
        """A docstring and a comment do not change the code."""
        # comment
        return (x +
                1)

    def two(x):  # noqa: ANN001, ANN202
        return x + 2

    assert code_digest(one) == code_digest(one_reformatted)
    assert code_digest(one) != code_digest(two)


def test_cache_opt_out_and_expiry(sqlite_ws: Workspace, tmp_path: Path) -> None:
    counter = tmp_path / "count"

    @step(cache=False)
    def never_cached(path: str) -> int:
        value = int(Path(path).read_text()) + 1 if Path(path).exists() else 1
        Path(path).write_text(str(value))
        return 0

    @step(cache_ttl=0.3)
    def short_lived() -> int:
        return 42

    @pipeline
    def opt_out(path: str = str(counter)) -> None:
        never_cached(path)
        short_lived()

    assert sqlite_ws.pipelines.run(opt_out).executed == ["never_cached", "short_lived"]
    assert sqlite_ws.pipelines.run(opt_out).executed == ["never_cached"]
    time.sleep(0.4)
    assert sqlite_ws.pipelines.run(opt_out).executed == ["never_cached", "short_lived"]
    assert counter.read_text() == "3"


def test_retries_with_backoff_are_recorded(sqlite_ws: Workspace, tmp_path: Path) -> None:
    marker = tmp_path / "attempts"
    run = sqlite_ws.pipelines.run(flows.retrying, {"marker": str(marker)})
    assert run.status == "SUCCEEDED", run.error
    flaky = run.step("flaky")
    assert flaky.attempts == 3 and flaky.retries == 2
    assert flaky.details["attempt_errors"] == ["RuntimeError: transient failure 1", "RuntimeError: transient failure 2"]
    assert flaky.duration_ms is not None and flaky.duration_ms >= 0.05 * 1000 + 0.1 * 1000 - 5  # 0.05 s then 0.1 s
    logs = sqlite_ws.pipelines.logs(run.id, "flaky")["flaky"]
    assert "--- attempt 1 ---" in logs and "attempt 3" in logs
    assert sqlite_ws.pipelines.output(run.id, "after") == "OK"


def test_a_failure_is_recorded_with_traceback_and_resume_reuses_completed_steps(sqlite_ws: Workspace,
                                                                                 tmp_path: Path) -> None:
    flag, counter = tmp_path / "flag", tmp_path / "counter"
    flag.write_text("on")
    failed = sqlite_ws.pipelines.run(flows.resumable, {"flag_file": str(flag), "counter": str(counter)})
    assert failed.status == "FAILED"
    assert "fail_if" in (failed.error or "")
    bad = failed.step("fail_if")
    assert bad.status == "FAILED" and bad.error and "ValueError: flag" in bad.error
    assert bad.traceback and "raise ValueError" in bad.traceback
    assert failed.step("after").status == "SKIPPED"  # downstream of the failure
    assert failed.step("after_2").status == "SUCCEEDED"  # an independent branch still ran
    assert counter.read_text() == "1"

    flag.unlink()
    resumed = sqlite_ws.pipelines.resume(failed.id)
    assert resumed.status == "SUCCEEDED" and resumed.resumed_from == failed.id
    assert resumed.reason == {"kind": "resume", "run": failed.id}
    # ``counted`` has cache=False, yet it is reused from the failed run rather than run again.
    assert resumed.step("counted").cached and resumed.step("counted").details["reused_from"] == failed.id
    assert set(resumed.executed) == {"fail_if", "after"}
    assert counter.read_text() == "1"
    with pytest.raises(Conflict):
        sqlite_ws.pipelines.resume(resumed.id)


def test_timeout_in_process_is_a_clear_failure(sqlite_ws: Workspace) -> None:
    started = time.monotonic()
    run = sqlite_ws.pipelines.run(flows.sleepy, {"seconds": 10.0})
    assert time.monotonic() - started < 8.0  # did not wait for the 10 s step
    assert run.status == "FAILED"
    assert run.step("slow").error == "StepTimeout: step took longer than its timeout of 0.5 s"


def test_conditional_steps_and_fan_out(sqlite_ws: Workspace) -> None:
    skipped = sqlite_ws.pipelines.run(flows.conditional, {"flag": False})
    assert skipped.status == "SUCCEEDED"
    assert skipped.step("after").status == "SKIPPED"
    assert "condition from 'passes' not met" in skipped.step("after").details["skipped"]
    ran = sqlite_ws.pipelines.run(flows.conditional, {"flag": True})
    assert ran.step("after").status == "SUCCEEDED"

    fanned = sqlite_ws.pipelines.run(flows.fan_out, {"n": 4})
    assert [s.key for s in fanned.steps] == ["square[0]", "square[1]", "square[2]", "square[3]", "total"]
    assert fanned.step("total").upstream == ["square[0]", "square[1]", "square[2]", "square[3]"]
    assert sqlite_ws.pipelines.output(fanned.id, "total") == 0 + 1 + 4 + 9
    # One more item: the existing items are cache hits, only the new one and the gather run.
    assert set(sqlite_ws.pipelines.run(flows.fan_out, {"n": 5}).executed) == {"square[4]", "total"}


def test_bad_input_is_refused_before_anything_is_recorded(sqlite_ws: Workspace) -> None:
    with pytest.raises(InvalidInput, match="no parameter 'nope'"):
        sqlite_ws.pipelines.run(small, {"nope": 1})
    with pytest.raises(InvalidInput, match=r"n=.*not a valid int"):
        sqlite_ws.pipelines.run(small, {"n": "many"})
    with pytest.raises(InvalidInput, match="step 'make'"):
        @pipeline
        def wrong_arguments() -> None:
            make(1, 2)

        sqlite_ws.pipelines.run(wrong_arguments)
    with pytest.raises(InvalidInput, match="retries"):
        step(retries=-1)(lambda: None)
    with pytest.raises(NotFound):
        sqlite_ws.pipelines.run("/nonexistent/flow.py:pipe")
    with pytest.raises(InvalidInput, match="has no pipeline named 'missing'"):
        sqlite_ws.pipelines.run("tests.pipelines.flows:missing")
    with pytest.raises(InvalidInput, match="runner"):
        sqlite_ws.pipelines.run(small, runner="kubernetes")
    assert sqlite_ws.pipelines.list_runs() == []


def test_typed_serialisers_round_trip_and_are_deterministic() -> None:
    import pandas as pd

    table = pa.table({"a": [1, 2, 3], "b": ["x", "y", None]})
    frame = pd.DataFrame({"a": [1.5, 2.5]}, index=[10, 11])
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    cases = [(table, "arrow"), (frame, "pandas"), (array, "numpy"), ({"k": [1, 2.5, None]}, "json"),
             ((1, 2), "pickle"), (float("nan"), "json")]
    for value, kind in cases:
        got_kind, data = serialize(value)
        assert got_kind == kind
        assert serialize(value)[1] == data  # same value, same bytes, same digest
        back = deserialize(kind, data)
        if kind == "arrow":
            assert back.equals(table)
        elif kind == "pandas":
            pd.testing.assert_frame_equal(back, frame)
        elif kind == "numpy":
            assert np.array_equal(back, array) and back.dtype == np.float32
        elif isinstance(value, float):
            assert back != back  # NaN survives
        else:
            assert back == value


def test_a_missing_dataset_fails_the_validation_step_not_the_caller(sqlite_ws: Workspace) -> None:
    run = sqlite_ws.pipelines.run(flows.maintenance, {"dataset": "no-such-data"})
    assert run.status == "FAILED"
    validation = run.step("validate_data")
    assert validation.status == "FAILED" and (validation.error or "").startswith("NotFound:")
    assert "no-such-data" in (validation.error or "")
    assert all(s.status == "SKIPPED" for s in run.steps[1:])
