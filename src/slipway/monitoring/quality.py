"""Data quality of current data against the reference: what a broken feature pipeline looks like.

The schema inferred from the reference (types, null shares, ranges widened by a margin,
category domains) is checked with the data validation (:func:`slipway.data.validate.validate_table`):
schema changes (missing, extra, retyped columns), null shares, out-of-range values and new
categories. On top of it, two checks validation has no rule for: a column that became constant,
and a numeric column whose share of zeros jumped (a silently zeroed feature). Given the key column
of the reference's rows, the current rows are joined to them and compared column by column
(training-serving skew, :mod:`slipway.monitoring.skew`): a ``skew`` finding per skewed column.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slipway.data.profile import TableProfile
from slipway.data.records import Anomaly
from slipway.data.schema import infer_schema
from slipway.data.sketches import column_kind
from slipway.data.validate import validate_table
from slipway.monitoring.skew import TOLERANCE, SkewReport, training_serving_skew

ZERO_JUMP = 0.2  # a rise in the share of zeros beyond this is a zeroed column


@dataclass
class QualityReport:
    """Every finding; ``ok`` when none is an error."""

    findings: list[Anomaly]
    skew: SkewReport | None = None

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def columns(self, kind: str | None = None) -> list[str]:
        return [f.column for f in self.findings if f.column and (kind is None or f.kind == kind)]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "findings": [asdict(f) for f in self.findings]}
        if self.skew is not None:
            out["skew"] = self.skew.to_json()
        return out

    def to_html(self, title: str = "Data quality") -> str:
        """A self-contained HTML page of the findings (see :mod:`slipway.monitoring.report_html`)."""
        from slipway.monitoring.report_html import render

        return render(title, quality=self)


def _zero_share(column: pa.ChunkedArray) -> float:
    valid = len(column) - column.null_count
    return float(pc.sum(pc.equal(column, 0)).as_py() or 0) / valid if valid else 0.0


def _distinct(column: pa.ChunkedArray) -> int:
    return len(pc.unique(pc.drop_null(column)))


def skew_findings(report: SkewReport) -> list[Anomaly]:
    """One ``skew`` error per skewed column of a training-serving skew report."""
    return [Anomaly("skew", c.column, "error", c.share,
                    f"{c.share:.1%} of {c.compared} rows joined on {report.key!r} differ from the training rows "
                    f"in {c.column!r}" + (f" (largest difference {c.max_abs_diff:.4g})" if c.max_abs_diff else ""))
            for c in report.columns if c.skewed]


def check_quality(reference: pa.Table, current: pa.Table, key: str | None = None,
                  tolerance: float = TOLERANCE) -> QualityReport:
    """The findings of ``current`` against the schema and shape of ``reference``; with ``key``
    (a column whose values identify the reference's rows), also training-serving skew."""
    findings = [a for a in validate_table(current, infer_schema(TableProfile.of(reference), min_rows_share=0.0))
                if a.kind != "stale_data"]
    for name in reference.column_names:
        if name not in current.column_names or current.num_rows == 0:
            continue
        ref_col, cur_col = reference.column(name), current.column(name)
        if ref_col.type != cur_col.type and column_kind(cur_col.type) != column_kind(ref_col.type):
            continue  # already reported as a type change
        if _distinct(cur_col) <= 1 < _distinct(ref_col):
            findings.append(Anomaly("constant", name, "error", 1.0,
                                    f"column {name!r} holds one value in the current data; the reference has "
                                    f"{_distinct(ref_col)} distinct values"))
        if column_kind(cur_col.type) == "numeric" and column_kind(ref_col.type) == "numeric":
            before, after = _zero_share(ref_col), _zero_share(cur_col)
            if after - before > ZERO_JUMP:
                findings.append(Anomaly("zeroed", name, "error", after,
                                        f"{after:.1%} of {name!r} is zero in the current data, "
                                        f"{before:.1%} in the reference"))
    skew = training_serving_skew(reference, current, key, tolerance=tolerance) if key is not None else None
    if skew is not None:
        findings += skew_findings(skew)
    order = {name: i for i, name in enumerate(np.unique(reference.column_names + current.column_names))}
    findings.sort(key=lambda f: (order.get(f.column or "", -1)))
    return QualityReport(findings, skew)
