"""A picture of the Grafana dashboard's data: every panel of ``monitoring/grafana-dashboard.json``
asked of the running Prometheus over the story's time range, drawn with matplotlib (one chart per
panel, one line per series) into a PNG. It is what Grafana would show, without running Grafana."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from watch import Prometheus, dashboard_panels

_LEGEND = ("variant", "code", "deployment")


def _label(metric: dict[str, str]) -> str:
    parts = [metric[key] for key in _LEGEND if key in metric]
    if "role" in metric:
        parts.append(metric["role"])
    return " ".join(parts) or metric.get("__name__", "series")


def render(prometheus: Prometheus, start: float, end: float, path: Path) -> dict[str, int]:
    """Draw every panel from ``start`` to ``end`` (Unix seconds) into ``path``; series drawn per panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.dates import DateFormatter

    panels = dashboard_panels()
    columns = 2
    rows = (len(panels) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(13, 3.1 * rows), squeeze=False)
    step = max(1.0, (end - start) / 200)
    drawn: dict[str, int] = {}
    span = (dt.datetime.fromtimestamp(start, tz=dt.UTC), dt.datetime.fromtimestamp(end, tz=dt.UTC))
    for axis, (title, expr) in zip(axes.flat, panels, strict=False):
        series = prometheus.query_range(expr, start, end, step)
        for one in series:
            times = [dt.datetime.fromtimestamp(float(t), tz=dt.UTC) for t, _ in one["values"]]
            values = [float(v) for _, v in one["values"]]
            axis.plot(times, values, label=_label(one["metric"]), linewidth=1.4)
        values_drawn = sum(1 for one in series for _, v in one["values"] if v.lower() != "nan")
        drawn[title] = len(series) if values_drawn else 0
        axis.set_title(title, fontsize=10, loc="left")
        axis.tick_params(labelsize=8)
        axis.grid(alpha=0.3)
        axis.set_xlim(*span)
        axis.xaxis.set_major_formatter(DateFormatter("%H:%M:%S"))
        if drawn[title]:
            axis.legend(fontsize=7, loc="best")
        else:
            axis.text(0.5, 0.5, "no data", ha="center", va="center", transform=axis.transAxes, color="grey")
    for axis in list(axes.flat)[len(panels):]:
        axis.set_visible(False)
    figure.suptitle("Slipway recommendations: the Grafana dashboard's queries, answered by Prometheus", fontsize=12)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return drawn
