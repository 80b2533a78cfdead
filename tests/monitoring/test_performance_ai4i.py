"""Performance of a served AI4I model: CBPE estimates from the payload log alone, then, once the
labels are posted to the inference server's feedback endpoint, the realised values beside them,
inside the estimate's band."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from slipway.serving.options import ServeOptions
from slipway.workspace import Workspace, open_workspace, set_default
from tests.serving.asgi import in_process, make_app
from tests.serving.helpers import FEATURES, LABEL, ai4i, champion
from tests.support import make_settings

BATCH = 20  # rows per request


@pytest.fixture(scope="module")
def ai4i_all() -> tuple[pd.DataFrame, pd.Series]:
    return ai4i(10000)


@pytest.fixture
def served(home: Path, tmp_path: Path, ai4i_all: tuple[pd.DataFrame, pd.Series]) -> Iterator[dict[str, Any]]:
    """ai4i@champion trained on rows 0-4999; rows 5000-6999 (with labels) as the reference file;
    rows 7000-9999 sent to the inference server, 20 rows a request; the request ids."""
    features, label = ai4i_all
    ws = open_workspace(make_settings(home))
    set_default(ws)
    champion(home, ws, features[:5000], label[:5000])
    reference = tmp_path / "reference.parquet"
    pq.write_table(pa.Table.from_pandas(features[5000:7000].assign(**{LABEL: label[5000:7000]}),
                                        preserve_index=False), reference)
    ids: list[str] = []

    async def scenario() -> None:
        options = ServeOptions(segment_rows=100_000, flush_seconds=3600, stats_seconds=3600)
        async with in_process(make_app(ws, options, model_ref="ai4i@champion")) as client:
            for start in range(7000, 10000, BATCH):  # one after another: the log's time order is AI4I's
                answer = await client.post("/invocations", json={"dataframe_split": {
                    "columns": FEATURES, "data": features.iloc[start:start + BATCH].values.tolist()}})
                assert answer.status_code == 200
                ids.append(answer.headers["x-request-id"])

    asyncio.run(scenario())
    yield {"ws": ws, "reference": reference, "ids": ids, "labels": label}
    ws.close()
    set_default(None)


def _post_labels(ws: Workspace, ids: list[str], labels: pd.Series, requests: int) -> None:
    ws.serving.add_feedback("ai4i", [
        {"request_id": rid, "label": labels.iloc[7000 + i * BATCH:7000 + (i + 1) * BATCH].tolist()}
        for i, rid in enumerate(ids[:requests])])


def test_cbpe_estimates_then_realised_values_fall_in_the_band(served: dict[str, Any]) -> None:
    ws: Workspace = served["ws"]
    kwargs = {"model": "ai4i@champion", "target": LABEL, "chunk_size": 500}
    before = ws.monitoring.performance(served["reference"], "deployment:ai4i", **kwargs)
    assert before.estimator == "cbpe" and before.rows == 3000 and before.labelled_rows == 0
    assert len(before.metric("roc_auc")) == 6
    assert all(c.estimated is not None and c.realised is None for c in before.metric("accuracy"))

    _post_labels(ws, served["ids"], served["labels"], requests=75)  # the first half of the rows
    half = ws.monitoring.performance(served["reference"], "deployment:ai4i", **kwargs)
    assert half.labelled_rows == 1500
    assert [c.labelled for c in half.metric("f1")] == [500, 500, 500, 0, 0, 0]
    assert [c.estimated for c in half.metric("f1")] == [c.estimated for c in before.metric("f1")]

    _post_labels(ws, served["ids"], served["labels"], requests=150)
    after = ws.monitoring.performance(served["reference"], "deployment:ai4i", **kwargs)
    assert after.labelled_rows == 3000
    for metric in ("roc_auc", "accuracy", "f1", "recall"):
        chunks = after.metric(metric)
        assert all(c.within_band for c in chunks), [(c.chunk, c.realised, c.lower_band, c.upper_band) for c in chunks]
    for chunk in after.metric("accuracy"):
        assert chunk.realised_lower is not None and chunk.realised_upper is not None
        assert chunk.realised_lower <= chunk.realised <= chunk.realised_upper
    # A healthy stretch: no estimate falls below its lower threshold (NannyML's thresholds are
    # two-sided, so a chunk that does better than the reference may still be flagged).
    assert all(c.estimated >= c.lower_threshold for c in after.chunks if c.estimated is not None
               and c.lower_threshold is not None)
