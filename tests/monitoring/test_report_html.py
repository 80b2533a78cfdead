"""The self-contained HTML report: small for 50 columns, no scripts or fetched resources, data escaped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyarrow import csv

from slipway.monitoring.drift import compare
from slipway.monitoring.quality import check_quality
from slipway.monitoring.reference import Reference
from tests.support import AI4I

TORQUE = "Torque [Nm]"
HOSTILE = '<script>alert("x")</script> & "quoted"'


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    return parser


def _fifty_columns(rows: int = 20_000) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(16)
    reference: dict[str, object] = {}
    current: dict[str, object] = {}
    for i in range(40):
        name = HOSTILE if i == 0 else f"num{i:02d}"
        reference[name] = rng.normal(10.0 * i, 1.0, rows)
        current[name] = rng.normal(10.0 * i + (0.8 if i < 4 else 0.0), 1.0, rows)
    for i in range(10):
        keys = np.array([f"c{j:02d}" for j in range(5 + 4 * i)] + ['<img src="http://x/y.png">'])
        reference[f"cat{i}"] = pa.array(rng.choice(keys, rows))
        current[f"cat{i}"] = pa.array(rng.choice(keys[::-1] if i == 0 else keys, rows,
                                                 p=np.linspace(1, 3, len(keys)) / np.linspace(1, 3, len(keys)).sum()
                                                 if i == 0 else None))
    return pa.table(reference), pa.table(current)


def test_a_50_column_report_is_small_self_contained_and_escaped() -> None:
    reference, current = _fifty_columns()
    report = compare(Reference.of(reference), current)
    page = report.to_html("drift of <50> columns")
    assert len(page.encode()) < 2 * 2**20
    parsed = _parse(page)
    tags = [tag for tag, _ in parsed.tags]
    assert "script" not in tags and "img" not in tags and "link" not in tags and "iframe" not in tags
    # Nothing is fetched: no src/href attributes at all, no url() in styles; SVG namespaces only.
    assert not [attrs for _, attrs in parsed.tags if "src" in attrs or "href" in attrs]
    assert "url(" not in page and "@import" not in page
    assert {attrs["xmlns"] for tag, attrs in parsed.tags if tag == "svg" and "xmlns" in attrs} == {"http://www.w3.org/2000/svg"}
    # One plot per column, each name shown as text (escaped in the markup, intact once parsed).
    cards = [attrs for tag, attrs in parsed.tags if tag == "div" and attrs.get("class") == "card"]
    assert len(cards) == 50
    assert sum(tag == "svg" for tag in tags) == 50
    text = "".join(parsed.text)
    assert HOSTILE in text and '<img src="http://x/y.png">'[:16] in text  # shown as text, not markup
    assert "&lt;script&gt;" in page and "drift of &lt;50&gt; columns" in page
    # The verdicts it shows are the report's: the four shifted numeric columns and cat0 drift.
    assert sorted(report.drifted_columns) == sorted([HOSTILE, "num01", "num02", "num03", "cat0"])
    assert f"{len(report.drifted_columns)} of 50 columns drifted" in text
    # Numeric plots have 40 bins of reference bars at most; categorical ones 20 categories + "(other)".
    cat9 = report.column("cat9").distribution
    assert cat9 is not None and cat9.categories is not None and len(cat9.categories) == 21
    assert cat9.categories[-1] == "(other)" and abs(sum(cat9.reference) - 1.0) < 1e-9
    num = report.column("num05").distribution
    assert num is not None and num.edges is not None and len(num.edges) == 41
    assert abs(sum(num.reference) - 1.0) < 1e-9 and abs(sum(num.current) - 1.0) < 1e-9
    assert "distribution" not in json.dumps(report.to_json())  # the compact JSON stays compact


def test_the_reference_histogram_matches_numpy() -> None:
    reference, current = _fifty_columns(3_000)
    report = compare(Reference.of(reference), current)
    plot = report.column("num07").distribution
    assert plot is not None and plot.edges is not None
    for values, shares in ((reference.column("num07").to_numpy(), plot.reference),
                           (current.column("num07").to_numpy(), plot.current)):
        counts, _ = np.histogram(values, bins=np.array(plot.edges))
        assert np.allclose(counts / counts.sum(), shares)


def _ai4i(tmp_path: Path) -> tuple[Path, Path]:
    table = csv.read_csv(AI4I).select(["Type", "Air temperature [K]", "Rotational speed [rpm]", TORQUE,
                                       "Tool wear [min]"])
    table = table.take(pa.array(np.random.default_rng(3).permutation(table.num_rows)))
    reference, current = table.slice(0, 5000), table.slice(5000)
    current = current.set_column(3, TORQUE, pc.multiply(current.column(TORQUE), 0.0))
    pq.write_table(reference, tmp_path / "reference.parquet")
    pq.write_table(current, tmp_path / "current.parquet")
    return tmp_path / "reference.parquet", tmp_path / "current.parquet"


def test_a_quality_report_shows_the_zeroed_column(tmp_path: Path) -> None:
    reference, current = _ai4i(tmp_path)
    page = check_quality(pq.read_table(reference), pq.read_table(current)).to_html()
    text = "".join(_parse(page).text)
    assert "errors found" in text and "zeroed" in text and TORQUE in text
    assert "script" not in [tag for tag, _ in _parse(page).tags]


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLIPWAY_HOME": str(home), "SLIPWAY_SERVER_URL": "",
           "SLIPWAY_STORE_URI": "", "SLIPWAY_ARTIFACTS_URI": "", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "slipway.cli.main", "monitors", *args], env=env, cwd=home,
                          capture_output=True, text=True, timeout=300)


def test_the_cli_writes_the_report_beside_its_json_and_refuses_a_bad_path(home: Path, tmp_path: Path) -> None:
    reference, current = _ai4i(tmp_path)
    out = tmp_path / "drift.html"
    done = _cli(home, "drift", str(reference), str(current), "--html", str(out), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["drifted_columns"] == [TORQUE]  # stdout stays pure JSON
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and TORQUE in page and "report written to" in done.stderr
    bad = _cli(home, "quality", str(reference), str(current), "--html", str(tmp_path / "missing" / "q.html"))
    assert bad.returncode == 2 and "no such folder" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "missing").exists()
