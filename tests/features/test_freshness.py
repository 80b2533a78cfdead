"""Materialisation on a schedule through ``slipway scheduler``, the profile of what a run wrote, and
the feature views' freshness as Prometheus gauges on the platform server's ``/metrics``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from slipway.core.errors import InvalidInput
from slipway.features.gauges import FeatureCollector
from slipway.pipelines.scheduler import Scheduler
from slipway.workspace import Workspace, open_workspace
from tests.features.pit_fixture import t
from tests.support import make_settings, platform_server


def ms(value: object) -> int:
    return int(pd.Timestamp(value).timestamp() * 1000)


def _scheduled(repo: Path, cron: str = "0 * * * *") -> Path:
    text = (repo / "definitions.py").read_text()
    (repo / "definitions.py").write_text(text.replace('owner="risk")', f'owner="risk", schedule="{cron}")'))
    return repo


def test_the_scheduler_materialises_a_view_when_its_cron_time_comes(sqlite_ws: Workspace, repo: Path) -> None:
    ws = sqlite_ws
    plan = ws.features.apply(_scheduled(repo))
    assert {c.name: c.action for c in plan.changes}["txn"] == "add"
    applied = ws.features.get("feature_view", "txn")
    assert applied.spec["schedule"] == "0 * * * *"
    reports: list[str] = []
    clock = {"now": applied.updated_ms}
    scheduler = Scheduler(ws, clock=lambda: clock["now"], report=reports.append)
    assert scheduler.run_materializations() == []  # no cron time since the view was applied
    clock["now"] = applied.updated_ms + 3_600_000  # an hour later: a top of the hour has passed
    [run] = scheduler.run_materializations()
    assert (run.view, run.end_ms, run.rows) == ("txn", clock["now"], 2)  # customers 1 and 2
    assert any("feature view txn@1: 2 keys written" in r for r in reports)
    assert scheduler.run_materializations() == []  # done for this hour
    clock["now"] += 3_600_000
    [again] = Scheduler(ws, clock=lambda: clock["now"], report=reports.append).run_materializations()
    assert again.start_ms == run.end_ms and again.rows == 0  # incremental: nothing new in the source
    [status] = ws.features.status()
    assert status.schedule == "0 * * * *" and status.last_run_ms is not None
    # A schedule change is a compatible change (same version), a bad cron a clear error.
    (repo / "definitions.py").write_text((repo / "definitions.py").read_text().replace("0 * * * *", "*/5 * * * *"))
    changed = ws.features.plan(repo)
    assert {c.name: c.action for c in changed.changes}["txn"] == "update"
    (repo / "definitions.py").write_text((repo / "definitions.py").read_text().replace("*/5 * * * *", "soon"))
    with pytest.raises(InvalidInput, match="not a cron expression"):
        ws.features.plan(repo)


def test_a_materialisation_records_a_profile_of_what_it_wrote(sqlite_ws: Workspace, repo: Path) -> None:
    ws = sqlite_ws
    ws.features.apply(repo)
    assert ws.features.profile("txn") == {}
    [run] = ws.features.materialize(end=t(3, 10), chunk_rows=1)  # two chunks: the profiles merge
    assert run.profile_digest
    profile = ws.features.profile("txn")
    assert profile["rows"] == 2 and profile["digest"] == run.profile_digest
    columns = profile["columns"]
    assert columns["amount_sum"]["min"] == 5.0 and columns["amount_sum"]["max"] == 30.0  # customer 2, customer 1
    assert columns["txn_count"]["count"] == 2 and columns["txn_count"]["nulls"] == 0
    assert set(columns) == {"event_timestamp", "amount_sum", "txn_count"}


def _gauges(text: str) -> dict[tuple[str, str], float]:
    return {(s.name, s.labels["view"]): s.value for f in text_string_to_metric_families(text) for s in f.samples
            if s.name.startswith("slipway_feature_view_")}


def test_freshness_gauges_on_the_platform_metrics(home: Path, repo: Path) -> None:
    settings = make_settings(home / "server")
    with platform_server(settings) as (url, token):
        ws = open_workspace(make_settings(home / "client", server_url=url, token=token))
        ws.features.apply(repo)
        metrics = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert metrics.status_code == 200
        before = _gauges(metrics.text)
        assert before[("slipway_feature_view_stale", "txn")] == 1.0  # never materialised
        assert before[("slipway_feature_view_ttl_seconds", "txn")] == 172800.0
        ws.features.materialize(end=t(3, 10))
        after = _gauges(httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=60).text)
        assert after[("slipway_feature_view_watermark_timestamp_seconds", "txn")] == ms(t(3, 10)) / 1000
        assert after[("slipway_feature_view_newest_event_timestamp_seconds", "txn")] == ms(t(3, 9)) / 1000
        assert after[("slipway_feature_view_rows_written", "txn")] == 2.0
        assert after[("slipway_feature_view_stale", "txn")] == 1.0  # 2024 is far beyond the 2-day TTL
        ws.close()


def test_the_stale_gauge_follows_the_ttl_with_an_injected_clock(sqlite_ws: Workspace, repo: Path) -> None:
    ws = sqlite_ws
    ws.features.apply(repo)
    ws.features.materialize(end=t(3, 10))
    db = ws.backend("features").ctx.db

    def sample(now: int) -> dict[str, float]:
        families = FeatureCollector(db, clock=lambda: now).collect()
        return {f.name: f.samples[0].value for f in families if f.samples}

    fresh = sample(ms(t(4)))
    assert fresh["slipway_feature_view_stale"] == 0.0 and fresh["slipway_feature_view_age_seconds"] == 14 * 3600
    assert sample(ms(t(6)))["slipway_feature_view_stale"] == 1.0  # the watermark is 2 days 14 h old
    assert [s.stale for s in ws.backend("features").status(ms(t(4)))] == [False]
