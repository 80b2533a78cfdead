"""Running a run search: filter, experiments, order, a page of ids, then the runs themselves.

Page tokens are opaque: base64 of ``{"o": offset, "q": fingerprint}``, where the fingerprint is a
hash of the query, so a token handed to a different query is refused instead of silently
returning the wrong page.

When the first order key is a metric, a page is first read from the runs that have a (non-NaN)
value of it, walking the metric's value index in order (:func:`top_by_metric_query`): those
runs come first in the full order, so when they fill the page the page is the full query's,
and the database stops after reading about page size / filter selectivity index entries
instead of sorting every match. Otherwise (the page reaches the runs with a NaN or no value)
the full query runs.

PostgreSQL's planner chooses between walking the metric's index and starting from the filter's
own matches (with the statistics of migration 0034). SQLite has no such statistics and always
walks, probing each run, so there a walk that would be long (a selective filter) is avoided by
counting the filter's matches among the metric's best ``SQLITE_SAMPLE`` values first.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from sqlalchemy import Connection, Select

from slipway.core.errors import InvalidInput
from slipway.core.hashing import hash_bytes
from slipway.tracking.records import RunPage
from slipway.tracking.rows import load_runs
from slipway.tracking.search import parse_filter, parse_order_by
from slipway.tracking.search_sql import metric_sample_query, run_id_query, top_by_metric_query

MAX_RESULTS = 50_000  # MLflow's limit too
SQLITE_SAMPLE = 200
SQLITE_WALK_CEILING = 10_000  # index entries; a longer walk is left to the full query on SQLite


def _fingerprint(filter: str, experiment_ids: list[str] | None, order_by: list[str], include_deleted: bool) -> str:
    body = orjson.dumps([filter, sorted(experiment_ids) if experiment_ids is not None else None, order_by, include_deleted])
    return hash_bytes(body)[:16]


def encode_token(offset: int, fingerprint: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"o": offset, "q": fingerprint})).decode().rstrip("=")


def decode_token(token: str, fingerprint: str) -> int:
    """The offset a page token holds; InvalidInput if it is malformed or from another query."""
    if not isinstance(token, str):
        raise InvalidInput(f"a page token is a string, got {token!r}")
    try:
        padded = token + "=" * (-len(token) % 4)
        body = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        offset, owner = body["o"], body["q"]
    except (binascii.Error, ValueError, TypeError, KeyError, orjson.JSONDecodeError, UnicodeEncodeError) as err:
        raise InvalidInput(f"page token {token[:40]!r} is malformed; pass the next_token of a previous page") from err
    if owner != fingerprint or not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidInput(f"page token {token[:40]!r} belongs to a different search; repeat the search from the start")
    return offset


def search(
    conn: Connection, filter: str, experiment_ids: list[str] | None, order_by: list[str], max_results: int,
    page_token: str | None, include_deleted: bool,
) -> RunPage:
    """One page of runs matching ``filter`` (already-resolved experiment ids), in order."""
    if isinstance(max_results, bool) or not isinstance(max_results, int) or not 1 <= max_results <= MAX_RESULTS:
        raise InvalidInput(f"max_results must be an integer from 1 to {MAX_RESULTS}, got {max_results!r}")
    node = parse_filter(filter)
    order = parse_order_by(order_by)
    fingerprint = _fingerprint(filter, experiment_ids, order_by, include_deleted)
    offset = decode_token(page_token, fingerprint) if page_token else 0
    dialect = conn.dialect.name
    ids = None
    if order and order[0].entity == "metrics" and (dialect != "sqlite" or _short_walk(
            conn, metric_sample_query(node, order, dialect, experiment_ids, include_deleted, SQLITE_SAMPLE),
            offset + max_results + 1)):
        ids = _top_by_metric(conn, top_by_metric_query(node, order, dialect, experiment_ids, include_deleted),
                             offset, max_results)
    if ids is None:
        query = run_id_query(node, order, dialect, experiment_ids, include_deleted)
        ids = list(conn.execute(query.limit(max_results + 1).offset(offset)).scalars())
    more = len(ids) > max_results
    return RunPage(load_runs(conn, ids[:max_results]), encode_token(offset + max_results, fingerprint) if more else None)


def _short_walk(conn: Connection, sample_query: Select[Any], wanted: int) -> bool:
    """Whether ``wanted`` rows are expected within ``SQLITE_WALK_CEILING`` entries of the metric's
    index, judged from how many of its best ``SQLITE_SAMPLE`` entries match the filter."""
    matched = conn.execute(sample_query).scalar_one()
    return matched > 0 and SQLITE_SAMPLE * wanted / matched <= SQLITE_WALK_CEILING


def _top_by_metric(conn: Connection, page_query: Select[Any], offset: int, max_results: int) -> list[str] | None:
    """The page from the runs with a value of the first order metric, or None when it may reach
    the runs without one (NaN or missing), which only the full query orders."""
    ids = list(conn.execute(page_query.limit(max_results + 1).offset(offset)).scalars())
    return ids if len(ids) == max_results + 1 else None
