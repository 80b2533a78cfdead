"""Small real models (pyfunc flavor) for behaviour the AI4I pipeline cannot show: a model that
fails on a share of its calls, one that always fails, and a threshold rule to vary outputs."""

from __future__ import annotations

import random
from typing import Any

import numpy as np


class TorqueThreshold:
    """Predicts failure (1) when torque is above ``threshold``."""

    def __init__(self, threshold: float = 50.0) -> None:
        self.threshold = threshold

    def predict(self, frame: Any) -> np.ndarray:
        return (np.asarray(frame["Torque [Nm]"], dtype=float) > self.threshold).astype(np.int64)


class FlakyTorqueThreshold(TorqueThreshold):
    """Like :class:`TorqueThreshold`, but raises on ``failure_rate`` of its calls."""

    def __init__(self, threshold: float = 50.0, failure_rate: float = 0.2) -> None:
        super().__init__(threshold)
        assert 0.0 <= failure_rate <= 1.0, failure_rate
        self.failure_rate = failure_rate
        self._random = random.Random(7)

    def predict(self, frame: Any) -> np.ndarray:
        if self._random.random() < self.failure_rate:
            raise RuntimeError("flaky model: simulated failure")
        return super().predict(frame)


class AlwaysFails:
    """A model whose code raises on every call."""

    def predict(self, frame: Any) -> np.ndarray:
        raise ValueError("this model is broken on purpose")


class RefusesNegativeTorque(TorqueThreshold):
    """Raises when any row has a negative torque (a model-side error for specific inputs)."""

    def predict(self, frame: Any) -> np.ndarray:
        if (np.asarray(frame["Torque [Nm]"], dtype=float) < 0).any():
            raise ValueError("negative torque is physically impossible")
        return super().predict(frame)
