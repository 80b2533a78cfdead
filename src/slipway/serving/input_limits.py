"""Which float values a model refuses, found once at load, so the server refuses them first (400).

A scikit-learn tree casts its input to float32 and rejects infinities: a request carrying ``1e39``
or ``+inf`` made the model raise, which the server answered as the model's error (500) and counted
against its variant, so a client could make the canary controller roll back a healthy canary. At
load, the model is asked to predict its input example with every float column set to NaN, to
infinity and to 1e39; each value it refuses becomes a limit checked per request, vectorised over
the float columns (a few microseconds), before the model is called.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable

import numpy as np

from slipway.core.errors import InvalidInput
from slipway.serving.frame import Frame

FLOAT32_MAX = float(np.finfo(np.float32).max)
SMALL = 8  # rows up to which the check runs in Python


@dataclasses.dataclass(frozen=True, slots=True)
class InputLimits:
    """Float columns to check, the largest magnitude the model takes, and whether it takes NaN."""

    columns: tuple[str, ...]
    upper: float = math.inf  # |value| must be <= upper (inf: infinities pass too)
    nan_ok: bool = True

    def check(self, frame: Frame) -> None:
        """Refuse a frame with a value the model would reject.

        Raises:
            InvalidInput: names the column and the value, and the model's limit.
        """
        arrays = [frame.columns[name] for name in self.columns]
        upper = self.upper
        if frame.n_rows <= SMALL:  # a few Python comparisons beat a handful of NumPy calls here
            if all(-upper <= v <= upper or (self.nan_ok and v != v) for a in arrays for v in a.tolist()):
                return
        else:
            values = np.concatenate(arrays)
            # NaN compares false both ways: "> upper" lets it through, "<= upper" stops it.
            if self.nan_ok and not (np.abs(values) > upper).any():
                return
            if not self.nan_ok and (np.abs(values) <= upper).all():
                return
        for name, array in zip(self.columns, arrays, strict=True):
            bad = (np.abs(array) > self.upper) if self.nan_ok else ~(np.abs(array) <= self.upper)
            if bad.any():
                value = float(array[bad][0])
                limit = "finite numbers" if self.upper == float(np.finfo(np.float64).max) else (
                    f"numbers within ±{self.upper:.7g} (float32)")
                raise InvalidInput(f"input {name!r} has {value!r}; this model takes {limit}"
                                   + ("" if self.nan_ok else ", not NaN"))


def probe_limits(float_columns: list[str], example: Frame, predict: Callable[[Frame], object]) -> InputLimits | None:
    """The limits of ``predict`` on ``float_columns``, found by predicting the first row of
    ``example`` with those columns set to NaN, infinity and 1e39 (None: no float column, or the
    model takes all three)."""
    if not float_columns or example.n_rows == 0:
        return None

    def refuses(value: float) -> bool:
        columns = {name: array[:1] for name, array in example.columns.items()}
        for name in float_columns:
            columns[name] = np.array([value], dtype=np.float64)
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):  # the probe overflows on purpose
                warnings.simplefilter("ignore")
                predict(Frame(columns, 1))
        except Exception:
            return True
        return False

    try:
        predict(Frame({name: array[:1] for name, array in example.columns.items()}, 1))
    except Exception:  # the example itself fails: nothing can be learnt from it
        return None
    nan_ok = not refuses(math.nan)
    upper = math.inf
    if refuses(math.inf):
        upper = float(np.finfo(np.float64).max)
    if refuses(1e39):
        upper = FLOAT32_MAX
    if nan_ok and upper == math.inf:
        return None
    return InputLimits(tuple(float_columns), upper, nan_ok)
