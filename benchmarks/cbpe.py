"""Benchmark ``cbpe_100k``: CBPE performance estimation, Slipway vs NannyML 0.13 on the same data and chunks.

A binary classifier's outputs on 100,000 reference rows (with labels) and 100,000 analysis rows
(without; 20,000 and 20,000 with ``--quick``), chunks of 5,000 rows, the five metrics CBPE
estimates (ROC AUC, F1, precision, recall, accuracy). The scores are deliberately miscalibrated
(so both sides calibrate) and the second half of the analysis comes from a shifted population
(so performance changes and alerts fire). Each side runs in its own process: read both Parquet
files, fit on the reference (calibration, sampling-error components, thresholds from the
reference's chunks), estimate every chunk of the analysis. Slipway:
``slipway.monitoring.performance(..., replicates=0)`` (what ``ws.monitoring.performance`` runs,
realised intervals off: NannyML computes none); NannyML: ``nannyml.CBPE(...).fit(reference)`` then
``.estimate(analysis)``, in its own venv (``.bench/venv-nannyml``).

Module imports happen before each side's clock starts (NannyML's import brings scikit-learn,
SciPy and pandas; Slipway's side imports the same before timing; both import ``pyarrow.dataset``,
which Parquet reading loads on first use, ~0.3 s). Each side reads only the columns it uses (the
analysis file's labels are left unread). ``checks`` is ``ok`` only when every chunk's estimate, sampling error, band and thresholds agree to
1e-9 (absolute) and every alert is the same. Run::

    .venv/bin/python benchmarks/cbpe.py [--quick] [--rounds N]
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peer  # noqa: E402 - after the path set-up above

WORKLOAD = "cbpe"
NANNYML = _peer.Peer("nannyml", ["nannyml==0.13.1", "pandas==2.3.3", "statsmodels==0.14.5"])
METRICS = ["roc_auc", "f1", "precision", "recall", "accuracy"]
OUTPUTS = ["y_pred", "y_pred_proba"]  # the model's outputs; the reference adds the labels
CHUNK = 5000
TOLERANCE = 1e-9
FIELDS = {"value": "estimated", "sampling_error": "sampling_error", "upper_confidence_boundary": "upper_band",
          "lower_confidence_boundary": "lower_band", "upper_threshold": "upper_threshold",
          "lower_threshold": "lower_threshold"}


def make_data(rows: int, folder: Path) -> tuple[Path, Path]:
    """Reference and analysis Parquet files: ``y_true``, ``y_pred``, ``y_pred_proba``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = folder / f"reference-{rows}.parquet", folder / f"analysis-{rows}.parquet"
    if all(p.exists() for p in paths):
        return paths
    rng = np.random.default_rng(20)

    def outputs(n: int, shift: float) -> pa.Table:
        signal = rng.normal(shift, 1.0, n)
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(2.0 * signal - 1.0)))).astype(np.int64)
        score = 1.0 / (1.0 + np.exp(-(1.3 * signal - 0.4)))  # overconfident: calibration is needed
        return pa.table({"y_true": y, "y_pred": (score >= 0.5).astype(np.int64), "y_pred_proba": np.round(score, 6)})

    pq.write_table(outputs(rows, 0.0), paths[0])
    pq.write_table(pa.concat_tables([outputs(rows // 2, 0.0), outputs(rows - rows // 2, 0.8)]), paths[1])
    return paths


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def slipway_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import pyarrow.dataset  # noqa: F401 - libraries load before the clock starts, on both sides
    import pyarrow.parquet as pq
    import scipy.optimize  # noqa: F401
    import sklearn.model_selection  # noqa: F401

    from slipway.monitoring.performance import performance

    started = time.perf_counter()
    reference = pq.ParquetFile(spec["reference"]).read(columns=["y_true", *OUTPUTS])
    analysis = pq.ParquetFile(spec["analysis"]).read(columns=OUTPUTS)
    report = performance(reference, analysis, target="y_true", prediction="y_pred", score="y_pred_proba",
                         chunk_size=CHUNK, metrics=METRICS, replicates=0)
    seconds = time.perf_counter() - started
    out = {m: {f: [getattr(c, ours) for c in report.metric(m)] for f, ours in FIELDS.items()} for m in METRICS}
    for m in METRICS:
        out[m]["alert"] = [c.alert_estimated for c in report.metric(m)]
    return {"seconds": seconds, "peak_mb": _peak_mb(), "metrics": out, "calibrated": report.calibrated}


def nannyml_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import warnings

    import nannyml
    import pandas as pd
    import pyarrow.dataset  # noqa: F401 - pandas reads Parquet through it
    import pyarrow.parquet  # noqa: F401

    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    reference = pd.read_parquet(spec["reference"], columns=["y_true", *OUTPUTS])
    analysis = pd.read_parquet(spec["analysis"], columns=OUTPUTS)
    estimator = nannyml.CBPE(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="y_true", metrics=METRICS,
                             chunk_size=CHUNK, problem_type="classification_binary")
    estimator.fit(reference)
    result = estimator.estimate(analysis).filter(period="analysis").to_df()
    seconds = time.perf_counter() - started
    out: dict[str, Any] = {}
    for m in METRICS:
        out[m] = {f: [None if pd.isna(v) else float(v) for v in result[(m, f)]] for f in FIELDS}
        out[m]["alert"] = [bool(v) for v in result[(m, "alert")]]
    return {"seconds": seconds, "peak_mb": _peak_mb(), "metrics": out,
            "calibrated": bool(estimator.needs_calibration)}


WORKERS = {"slipway": slipway_worker, "nannyml": nannyml_worker}


def _run(python: Path, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    import json

    result = _peer.run_json(python, [__file__, "--worker", name, "--spec", json.dumps(spec)], timeout=3600)
    return {**result.payload, "peak_rss_mb": result.peak_rss_mb}


def _checks(ours: dict[str, Any], theirs: dict[str, Any]) -> tuple[str, float]:
    """``ok`` and the largest absolute difference, when every figure agrees within TOLERANCE."""
    worst = 0.0
    same = ours["calibrated"] == theirs["calibrated"]
    for m in METRICS:
        same = same and ours["metrics"][m]["alert"] == theirs["metrics"][m]["alert"]
        for f in FIELDS:
            a, b = ours["metrics"][m][f], theirs["metrics"][m][f]
            if len(a) != len(b) or any((x is None) != (y is None) for x, y in zip(a, b, strict=False)):
                return "failed", float("inf")
            worst = max([worst, *(abs(x - y) for x, y in zip(a, b, strict=True) if x is not None)])
    return ("ok" if same and worst <= TOLERANCE else "failed"), worst


def main() -> None:
    args = _peer.argument_parser(__doc__ or "").parse_args()
    if args.worker:
        _peer.worker_main(WORKERS, args.worker, args.spec)
        return
    rows = 20_000 if args.quick else 100_000
    folder = _peer.BENCH_DIR / "cbpe-data"
    folder.mkdir(parents=True, exist_ok=True)
    reference, analysis = make_data(rows, folder)
    nannyml = NANNYML.ensure()
    spec = {"reference": str(reference), "analysis": str(analysis)}
    results = _peer.alternate(args.rounds or 3, {
        "slipway": lambda _: _run(_peer.SLIPWAY_PYTHON, "slipway", spec),
        "nannyml": lambda _: _run(nannyml, "nannyml", spec),
    })
    checked = [_checks(a, b) for a, b in zip(results["slipway"], results["nannyml"], strict=True)]
    checks = "ok" if all(c == "ok" for c, _ in checked) else "failed"
    ours = _peer.median([r["seconds"] for r in results["slipway"]])
    theirs = _peer.median([r["seconds"] for r in results["nannyml"]])
    alerts = sum(sum(results["slipway"][0]["metrics"][m]["alert"]) for m in METRICS)
    _peer.emit(WORKLOAD, f"cbpe_{_peer.size_label(rows)}", ours, theirs, "s", theirs / ours, NANNYML.version, checks, rows=rows,
               chunk_size=CHUNK, max_abs_difference=max(w for _, w in checked), alerts=alerts,
               slipway_peak_rss_mb=round(max(r["peak_rss_mb"] for r in results["slipway"]), 1),
               nannyml_peak_rss_mb=round(max(r["peak_rss_mb"] for r in results["nannyml"]), 1))


if __name__ == "__main__":
    main()
