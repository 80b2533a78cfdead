"""The micro-batcher's estimate of a model call, which decides whether a call runs on the event loop."""

from __future__ import annotations

import numpy as np
import pytest

from slipway.serving import batching
from slipway.serving.batching import MicroBatcher
from slipway.serving.frame import Frame


class FakeClock:
    """perf_counter for the batcher: each model call takes the next duration given."""

    def __init__(self) -> None:
        self.now = 0.0
        self.durations: list[float] = []

    def __call__(self) -> float:
        return self.now

    def predict(self, frame: Frame) -> np.ndarray:
        self.now += self.durations.pop(0)
        return np.zeros(frame.n_rows)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(batching.time, "perf_counter", fake)
    return fake


def run(batcher: MicroBatcher, clock: FakeClock, *seconds: float) -> None:
    frame = Frame({"x": np.zeros(1)}, 1)
    for duration in seconds:
        clock.durations.append(duration)
        batcher._run(frame, 0.0)


def test_a_preempted_call_does_not_move_a_fast_model_off_the_loop(clock: FakeClock) -> None:
    batcher = MicroBatcher(clock.predict, inline_ms=1.0)
    run(batcher, clock, 0.0001)
    assert batcher.batch_seconds == pytest.approx(0.0001)
    run(batcher, clock, 0.005)  # one call stretched to 5 ms by another process on the CPU
    assert batcher.batch_seconds < batcher.inline_s
    run(batcher, clock, 0.0001)  # a faster call brings the estimate straight back
    assert batcher.batch_seconds == pytest.approx(0.0001)
    batcher.close()


def test_a_model_that_really_got_slower_leaves_the_loop(clock: FakeClock) -> None:
    batcher = MicroBatcher(clock.predict, inline_ms=1.0)
    run(batcher, clock, 0.0001)
    run(batcher, clock, *[0.005] * 10)
    assert batcher.batch_seconds > batcher.inline_s
    batcher.close()
