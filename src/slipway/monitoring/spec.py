"""What a drift run tests and how: checked in full before any data is read.

``methods`` and ``thresholds`` map a column name, a kind (``numeric``, ``categorical``) or
``"*"`` (every column the method fits) to a method name or a threshold; a column's own entry wins over its
kind's, which wins over ``"*"``; a column with no entry gets Evidently's default choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slipway.core.errors import InvalidInput
from slipway.monitoring.methods import KINDS, Method, method

CORRECTIONS = ("bonferroni", "bh")


@dataclass
class DriftSpec:
    """The options of a drift run."""

    methods: dict[str, str] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    columns: list[str] | None = None
    correction: str | None = None
    drift_share: float = 0.5

    @classmethod
    def build(cls, method: str | dict[str, str] | None = None, threshold: float | dict[str, float] | None = None,
              columns: list[str] | None = None, correction: str | None = None, drift_share: float = 0.5) -> DriftSpec:
        """A spec from the short forms: one method or threshold for every column, or a mapping."""
        methods = {"*": method} if isinstance(method, str) else dict(method or {})
        thresholds = {"*": threshold} if isinstance(threshold, int | float) else dict(threshold or {})
        return cls(methods, thresholds, columns, correction, drift_share)

    def check(self, kinds: dict[str, str], current_columns: list[str]) -> None:
        """Raise :class:`InvalidInput` for anything the reference or current data cannot satisfy.

        Args:
            kinds: the tested columns of the reference and their kinds.
            current_columns: the columns of the current data.
        """
        keys = set(kinds) | set(KINDS) | {"*"}
        for where, mapping in (("method", self.methods), ("threshold", self.thresholds)):
            for key in mapping:
                if key not in keys:
                    raise InvalidInput(f"{where} for unknown column {key!r}; the reference has {sorted(kinds)}")
        for name in self.columns or []:
            if name not in kinds:
                raise InvalidInput(f"unknown column {name!r}; the reference has {sorted(kinds)}")
        for key, name in self.methods.items():
            if not isinstance(name, str):
                raise InvalidInput(f"the method for {key!r} must be a name, not {name!r}")
            chosen = method(name)
            if key == "*":
                continue  # "*" applies to every column the method fits; the others keep the default
            for column in self._columns_of(key, kinds):
                if kinds[column] not in chosen.kinds:
                    raise InvalidInput(f"method {chosen.name!r} does not apply to {kinds[column]} column {column!r}")
        for key, value in self.thresholds.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise InvalidInput(f"the threshold for {key!r} must be a positive number, not {value!r}")
        if self.correction not in (None, *CORRECTIONS):
            raise InvalidInput(f"unknown correction {self.correction!r}; choose one of {', '.join(CORRECTIONS)}")
        if not 0 < self.drift_share <= 1:
            raise InvalidInput(f"drift_share must be in (0, 1], not {self.drift_share!r}")
        missing = [c for c in self.tested(kinds) if c not in current_columns]
        if missing:
            raise InvalidInput(f"the current data has no column {missing[0]!r} (missing: {missing})")

    def tested(self, kinds: dict[str, str]) -> list[str]:
        return list(self.columns) if self.columns is not None else list(kinds)

    @staticmethod
    def _columns_of(key: str, kinds: dict[str, str]) -> list[str]:
        if key == "*":
            return list(kinds)
        if key in KINDS:
            return [c for c, k in kinds.items() if k == key]
        return [key]

    def method_for(self, column: str, kind: str) -> Method | None:
        for key in (column, kind, "*"):
            if key in self.methods:
                chosen = method(self.methods[key])
                if key != "*" or kind in chosen.kinds:
                    return chosen
        return None

    def threshold_for(self, column: str, kind: str, chosen: Method) -> float:
        for key in (column, kind, "*"):
            if key in self.thresholds:
                return float(self.thresholds[key])
        return chosen.threshold
