"""The monitoring Grafana dashboard: valid JSON whose every query uses metrics the server exports.

(`test_prometheus.py` also runs each of its queries against a real Prometheus.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import slipway.deploy
from slipway.monitoring.gauges import METRIC_NAMES

DASHBOARD = Path(slipway.deploy.__file__).parent / "grafana" / "monitoring.json"


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())  # type: ignore[no-any-return]


def queries(board: dict[str, Any]) -> list[str]:
    """Every PromQL expression of the panels, with the template variables set to 'All'."""
    return [re.sub(r"\$(deployment|model|version|monitor)\b", ".*", target["expr"])
            for panel in board["panels"] for target in panel["targets"]]


def test_every_panel_queries_only_exported_monitoring_metrics() -> None:
    board = dashboard()
    assert board["uid"] == "slipway-monitoring" and board["panels"]
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    variables = {v["name"] for v in board["templating"]["list"]}
    assert {"datasource", "deployment", "model", "version", "monitor"} <= variables
    texts = [t["expr"] for p in board["panels"] for t in p["targets"]]
    texts += [v["query"] for v in board["templating"]["list"] if v["type"] == "query"]
    used = {name for text in texts for name in re.findall(r"slipway_[a-z_]+", text)}
    assert used and used <= set(METRIC_NAMES), used - set(METRIC_NAMES)
    # The headline figures of the issue are all on the board.
    assert {"slipway_monitor_drift_share", "slipway_monitor_feature_drift_score", "slipway_monitor_quality_share",
            "slipway_monitor_open_alerts", "slipway_monitor_performance"} <= used
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
        for target in panel["targets"]:
            assert set(re.findall(r"\$(\w+)", target["expr"])) <= variables, target["expr"]
            # Every series is filtered by the dashboard's deployment, model and version.
            for name in re.findall(r"slipway_[a-z_]+\{[^}]*\}", target["expr"]):
                assert all(f'{label}=~"${label}"' in name for label in ("deployment", "model", "version")), name
    assert all(q.count("(") == q.count(")") for q in queries(board))
