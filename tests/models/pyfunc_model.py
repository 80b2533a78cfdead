"""A plain Python model class, importable by its path, for the pyfunc flavor tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


class TorqueThreshold:
    """Predicts failure when torque times rotational speed passes a power limit (in watts)."""

    def __init__(self, limit_watts: float, column_weights: dict[str, float] | None = None) -> None:
        assert limit_watts > 0, "a power limit is positive watts"
        self.limit_watts = limit_watts
        self.column_weights = column_weights or {}

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        power = frame["Torque [Nm]"].to_numpy() * frame["Rotational speed [rpm]"].to_numpy() * (2 * np.pi / 60)
        return (power > self.limit_watts).astype(np.int64)
