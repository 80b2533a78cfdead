"""Payload logging (every request, flushed on graceful shutdown, indexed), feedback, Prometheus
metrics, and micro-batching under concurrency."""

from __future__ import annotations

import asyncio
import re

import numpy as np

from slipway.serving.options import ServeOptions
from tests.serving.asgi import in_process, make_app
from tests.serving.helpers import FEATURES


def test_payload_log_holds_every_request_after_shutdown_and_feedback_attaches(champion_ws, ai4i_data) -> None:
    ws, pipeline = champion_ws
    features, label = ai4i_data
    # Large segments and a long flush interval: only the graceful shutdown writes them.
    options = ServeOptions(segment_rows=100_000, flush_seconds=3600, stats_seconds=3600)
    ids: list[str] = []

    async def scenario() -> None:
        async with in_process(make_app(ws, options, model_ref="ai4i@champion")) as client:
            responses = await asyncio.gather(*[
                client.post("/invocations", json={"dataframe_split": {
                    "columns": FEATURES, "data": features.iloc[i * 3:i * 3 + 3].values.tolist()}})
                for i in range(120)])
            assert {r.status_code for r in responses} == {200}
            ids.extend(r.headers["x-request-id"] for r in responses)
            assert ws.serving.payload_segments("ai4i") == []  # nothing flushed yet
            labels = [{"request_id": rid, "label": label.iloc[i * 3:i * 3 + 3].tolist()} for i, rid in enumerate(ids)]
            accepted = await client.post("/feedback", json={"feedback": labels})
            assert accepted.json() == {"accepted": 120}

    asyncio.run(scenario())
    log = ws.serving.payload_log("ai4i")
    assert log.num_rows == 360 and len(set(log.column("request_id").to_pylist())) == 120
    assert set(log.column("request_id").to_pylist()) == set(ids)
    frame = log.to_pandas().sort_values(["request_id", "row"])
    assert set(frame.columns) >= {"ts_ms", "variant", "model", "version", "latency_ms", "output",
                                  *[f"input.{c}" for c in FEATURES]}
    inputs = frame[[f"input.{c}" for c in FEATURES]].set_axis(FEATURES, axis=1)
    assert np.array_equal(pipeline.predict(inputs), frame["output"].to_numpy())
    assert (frame["model"] == "ai4i").all() and (frame["version"] == "1").all()
    outcomes = ws.serving.outcomes("ai4i")
    assert outcomes["default"]["labelled_rows"] == 360
    expected_accuracy = float((pipeline.predict(features.iloc[:360]) == label.iloc[:360].to_numpy()).mean())
    assert abs(outcomes["default"]["accuracy"] - expected_accuracy) < 1e-9
    segments = ws.serving.payload_segments("ai4i")
    assert sum(s.rows for s in segments) == 360 and all(ws.blobs.exists(s.digest) for s in segments)


def test_metrics_have_standard_names_and_labels_and_batches_form(champion_ws, ai4i_data) -> None:
    ws, pipeline = champion_ws
    features, _ = ai4i_data
    options = ServeOptions(max_wait_ms=5.0, flush_seconds=0.2)

    async def scenario() -> str:
        async with in_process(make_app(ws, options, model_ref="ai4i@champion")) as client:
            records = features.iloc[:200].to_dict("records")
            responses = await asyncio.gather(*[client.post("/invocations", json={"dataframe_records": [r]})
                                               for r in records])
            got = [r.json()["predictions"][0] for r in responses]
            assert got == pipeline.predict(features.iloc[:200]).tolist()  # batching kept every answer in place
            await client.post("/invocations", json={"dataframe_records": [{"Type": "L"}]})
            return (await client.get("/metrics")).text

    text = asyncio.run(scenario())
    labels = 'deployment="ai4i",model="ai4i",variant="default",version="1"'
    for name in ("slipway_inference_request_duration_seconds_bucket", "slipway_inference_queue_seconds_bucket",
                 "slipway_inference_batch_seconds_bucket", "slipway_inference_batch_rows_bucket",
                 "slipway_inference_in_flight_requests"):
        assert any(line.startswith(name) and all(part in line for part in labels.split(",")) for line in text.splitlines()), name
    count = re.search(r'slipway_inference_requests_total\{code="200",[^}]*protocol="invocations"[^}]*\} (\S+)', text)
    assert count is not None and float(count.group(1)) == 200.0
    assert re.search(r'slipway_inference_requests_total\{code="400"', text)
    batches = float(re.search(r"slipway_inference_batch_rows_count\{[^}]*\} (\S+)", text).group(1))
    assert batches < 200  # concurrent requests were merged into batches


def test_grafana_dashboard_queries_only_metrics_the_server_exports() -> None:
    import json
    from pathlib import Path

    import slipway.deploy
    from slipway.serving.metrics import ServingMetrics

    dashboard = json.loads((Path(slipway.deploy.__file__).parent / "grafana" / "inference.json").read_text())
    exported = {m.name for m in ServingMetrics().registry.collect()}
    exported |= {f"{n}_total" for n in exported} | {f"{n}_{s}" for n in exported for s in ("bucket", "sum", "count")}
    queried = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"slipway_[a-z_]+", target["expr"])}
    assert queried and queried <= exported, queried - exported
    assert {"deployment", "variant"} <= {v["name"] for v in dashboard["templating"]["list"]}


def test_metrics_of_workers_sharing_a_folder_add_up(champion_ws, ai4i_data, tmp_path) -> None:
    import dataclasses

    from tests.serving.asgi import FAST

    ws, _ = champion_ws
    rows = ai4i_data[0].iloc[:3]
    body = {"dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}}
    folder = tmp_path / "metrics"
    folder.mkdir()
    shared = dataclasses.replace(FAST, metrics_dir=str(folder), metrics_seconds=0.1)
    first = make_app(ws, dataclasses.replace(shared, worker_id="w1"), model_ref="ai4i@champion")
    second = make_app(ws, dataclasses.replace(shared, worker_id="w2"), model_ref="ai4i@champion")

    def total(text: str) -> float:
        return sum(float(line.rpartition(" ")[2]) for line in text.splitlines()
                   if line.startswith("slipway_inference_requests_total{") and 'code="200"' in line)

    async def scenario() -> None:
        async with in_process(first) as a, in_process(second) as b:
            for _ in range(7):
                assert (await a.post("/invocations", json=body)).status_code == 200
            for _ in range(5):
                assert (await b.post("/invocations", json=body)).status_code == 200
            for client in (a, b):  # whichever worker a scrape reaches reports both, once the other's
                seen = []           # snapshot (every 0.1 s here; slower on a loaded machine) is in
                for _ in range(50):
                    scraped = await client.get("/metrics")
                    assert scraped.status_code == 200
                    seen.append(total(scraped.text))
                    if seen[-1] == 12:
                        break
                    await asyncio.sleep(0.1)
                assert seen[-1] == 12 and max(seen) == 12, seen
            assert total((await a.get("/metrics")).text) == 12  # scraping again counts nothing twice

    asyncio.run(scenario())
    assert sorted(p.name for p in folder.iterdir()) == ["w1.prom", "w2.prom"]


def test_snapshots_written_at_once_by_one_process_all_land(tmp_path) -> None:
    """The periodic task and a scrape write the same worker's snapshot from two threads at once:
    every write lands whole and no temporary file is left (CI once lost a rename to this race)."""
    from concurrent.futures import ThreadPoolExecutor

    from prometheus_client import CollectorRegistry, Counter

    from slipway.serving.shared_metrics import merged, write_snapshot

    registry = CollectorRegistry()
    Counter("slipway_demo", "demo", registry=registry).inc(3)
    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(write_snapshot, str(tmp_path), "w1", registry) for _ in range(200)]:
            future.result()  # raised FileNotFoundError when writers shared one temporary name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w1.prom"]
    assert "slipway_demo_total 3.0" in merged(str(tmp_path)).decode()
