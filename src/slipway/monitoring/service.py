"""``ws.monitoring``: drift and data quality of current data against a reference.

Reference and current data may be an Arrow table, a pandas DataFrame, a Parquet or CSV path, a
dataset version (``"name@3"``, ``"name"`` for the latest, or the version object) or a
deployment's payload log (``"deployment:NAME"``, ``"deployment:NAME/VARIANT"`` for one variant's
rows; the ``input.`` columns under their own names, see :mod:`slipway.monitoring.payload`). A dataset version's prepared reference is stored once as blobs and
reused by every later run (see :mod:`slipway.monitoring.reference_cache`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from slipway.core.errors import InvalidInput
from slipway.monitoring.columns import ParquetColumns
from slipway.monitoring.diagnosis import Diagnosis, diagnose
from slipway.monitoring.drift import compare
from slipway.monitoring.monitor_service import MonitorsMixin
from slipway.monitoring.payload import payload_features, payload_window
from slipway.monitoring.performance_service import PerformanceMixin
from slipway.monitoring.quality import QualityReport, check_quality
from slipway.monitoring.records import DriftReport
from slipway.monitoring.reference import Reference
from slipway.monitoring.reference_cache import ReferenceCache
from slipway.monitoring.spec import DriftSpec
from slipway.monitoring.window import WindowPartial

DEPLOYMENT = "deployment:"


class MonitoringService(MonitorsMixin, PerformanceMixin):
    """Drift, data quality and performance, computed where the workspace runs."""

    def __init__(self, workspace: Any) -> None:
        self._ws = workspace

    def table(self, source: Any) -> pa.Table:
        """Read ``source`` (see the module docstring) as one Arrow table.

        Raises:
            InvalidInput: the source is of no known kind. NotFound: the dataset does not exist.
        """
        source = _plain(source)
        if isinstance(source, pa.Table):
            return source
        if hasattr(source, "to_arrow") or type(source).__name__ == "DataFrame":
            return pa.Table.from_pandas(source, preserve_index=False)
        if isinstance(source, Path) or (isinstance(source, str) and source.endswith((".parquet", ".csv"))):
            return _read_file(Path(source))
        if isinstance(source, str) and source.startswith(DEPLOYMENT):
            name, _, variant = source[len(DEPLOYMENT):].partition("/")
            return payload_features(self._ws.serving.payload_log(name), variant or None)
        if isinstance(source, str):
            return self._ws.data.load(source)
        raise InvalidInput(f"cannot read {source!r} as data: give a table, a file, a dataset or 'deployment:NAME'")

    def _columns(self, source: Any) -> pa.Table | ParquetColumns | WindowPartial:
        """A Parquet path read column by column, a payload log streamed segment by segment (bounded
        memory); anything else as a table."""
        if isinstance(source, str | Path) and str(source).endswith(".parquet") and Path(source).is_file():
            return ParquetColumns(source)
        if isinstance(source, str) and source.startswith(DEPLOYMENT):
            name, _, variant = source[len(DEPLOYMENT):].partition("/")
            return payload_window(self._ws, name, variant or None, None)[0]
        return self.table(source)

    def reference(self, source: Any, kinds: dict[str, str] | None = None,
                  check: Callable[[Reference], None] | None = None) -> Reference:
        """The prepared reference of ``source``; a dataset version's is computed once and stored.

        Args:
            check: called on a newly prepared reference before it is stored (a spec that does not
                fit it raises there, and nothing is stored).
        """
        source = _plain(source)
        if isinstance(source, Reference):
            return source
        if not (_is_dataset(source) and not self._ws.remote):
            return Reference.of(self._columns(source), kinds)
        version = self._ws.data.get_version(source)
        cache = ReferenceCache(self._ws.blobs, Path(self._ws.settings.home) / "monitoring" / "references")
        key = f"{version.digest}-{_kinds_key(kinds)}"
        found = cache.get(key)
        if found is not None:
            return found
        prepared = Reference.of(self.table(source), kinds)
        if check is not None:
            check(prepared)
        cache.put(key, prepared)
        return prepared

    def drift(self, reference: Any, current: Any, *, method: str | dict[str, str] | None = None,
              threshold: float | dict[str, float] | None = None, columns: list[str] | None = None,
              correction: str | None = None, drift_share: float = 0.5,
              kinds: dict[str, str] | None = None, progress: Callable[[int, int], None] | None = None) -> DriftReport:
        """Test every column of ``current`` against ``reference`` for drift.

        Args:
            method: one method for every column it fits, or a mapping of column name, kind
                (``numeric``/``categorical``) or ``"*"`` to a method; unset columns get Evidently's
                default choice.
            threshold: a threshold for all, or a mapping like ``method``.
            correction: ``bonferroni`` or ``bh`` (Benjamini-Hochberg) over the p-value tests.
            kinds: column -> ``numeric``/``categorical`` where the Arrow type would mislead.
            progress: called with (columns tested, columns) as the blocks of columns finish.

        Raises:
            InvalidInput: an unknown column or method, a method that does not fit a column, a bad
                threshold; nothing is computed or stored then.

        Example:
            >>> ws.monitoring.drift("ai4i@1", "deployment:failures", method={"Torque [Nm]": "ks"})
        """
        spec = DriftSpec.build(method, threshold, columns, correction, drift_share)
        current_table = self._columns(current)
        prepared = self.reference(reference, kinds,
                                  check=lambda ref: spec.check(ref.kinds, current_table.column_names))
        spec.check(prepared.kinds, current_table.column_names)
        return compare(prepared, current_table, spec, progress)

    def diagnose(self, deployment: str, window: int | str | None = None, target: str | None = None) -> Diagnosis:
        """Walk the diagnosis loop for ``deployment`` over ``window`` (last N rows, ``24h``, ``7d``;
        all logged rows by default); stored and audited. ``target``: the training data's label
        column (found from the run or the model by default). See :mod:`slipway.monitoring.diagnosis`."""
        return diagnose(self._ws, deployment, window, target=target)

    def quality(self, reference: Any, current: Any, key: str | None = None) -> QualityReport:
        """Schema changes, null shares, out-of-range values, new categories, constant and zeroed
        columns of ``current`` against ``reference``; with ``key`` (the reference rows' id column,
        which ``current`` carries too), training-serving skew per column (``report.skew``)."""
        return check_quality(self.table(reference), self.table(current), key)


def _plain(source: Any) -> Any:
    """A dataset version object stands for its reference (``name@version``)."""
    ref = getattr(source, "ref", None)
    return ref if isinstance(ref, str) and hasattr(source, "digest") else source


def _is_dataset(source: Any) -> bool:
    return isinstance(source, str) and not source.startswith(DEPLOYMENT) and not source.endswith((".parquet", ".csv"))


def _kinds_key(kinds: dict[str, str] | None) -> str:
    import hashlib

    text = ",".join(f"{k}={v}" for k, v in sorted((kinds or {}).items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_file(path: Path) -> pa.Table:
    if not path.is_file():
        raise InvalidInput(f"no such data file: {path}")
    if path.suffix == ".csv":
        from pyarrow import csv

        return csv.read_csv(path)
    import pyarrow.parquet as pq

    return pq.read_table(path)
