"""Running a run search: filter, experiments, order, a page of ids, then the runs themselves.

Page tokens are opaque: base64 of ``{"o": offset, "q": fingerprint}``, where the fingerprint is a
hash of the query, so a token handed to a different query is refused instead of silently
returning the wrong page.

When the first order key is a metric, a page is first tried from only the best few thousand
values of that metric (:func:`top_by_metric_query`): a top-100 then reads a few thousand index
entries instead of every run. The result is used only when it is provably the same as the full
query's (every returned row is strictly better than the worst candidate); otherwise, e.g. for a
very selective filter, the full query runs.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import orjson
from sqlalchemy import Connection, Select, func, select

from slipway.core.errors import InvalidInput
from slipway.core.hashing import hash_bytes
from slipway.tracking.records import RunPage
from slipway.tracking.rows import load_runs
from slipway.tracking.search import parse_filter, parse_order_by
from slipway.tracking.search_sql import metric_population_query, run_id_query, top_by_metric_query

MAX_RESULTS = 50_000  # MLflow's limit too
# The "top N by a metric" fast path first checks how many of the best SAMPLE candidates match the
# filter, sizes its candidate budget from that (with a safety margin), and leaves searches that
# would need more than CEILING candidates to the full query, which is cheaper for them.
FAST_PATH_SAMPLE = 200
FAST_PATH_SAFETY = 1.3
FAST_PATH_CEILING = 5_000
FAST_PATH_MAX = 10_000  # deeper pages than this go straight to the full query
# Reading a candidate (an index entry plus a probe per filter term) costs several times a row of
# the full query's index scans: measured on 20,000 runs, 1,876 candidates (a tenth of the values)
# took as long as the full query. A budget above a twentieth of the metric's values goes to the
# full query (the page query can still fall short and need it after all).
FAST_PATH_SHARE = 20


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
    # One row more than asked says whether there is a next page without a COUNT(*).
    wanted = offset + max_results + 1
    ids = None
    if order and order[0].entity == "metrics" and wanted <= FAST_PATH_MAX:
        budget = _fast_path_budget(conn, top_by_metric_query(
            node, order, dialect, experiment_ids, include_deleted, FAST_PATH_SAMPLE)[0], wanted, order[0].key)
        if budget is not None:
            queries = top_by_metric_query(node, order, dialect, experiment_ids, include_deleted, budget)
            ids = _top_by_metric(conn, queries, budget, order[0].descending, offset, max_results)
    if ids is None:
        query = run_id_query(node, order, dialect, experiment_ids, include_deleted)
        ids = list(conn.execute(query.limit(max_results + 1).offset(offset)).scalars())
    more = len(ids) > max_results
    return RunPage(load_runs(conn, ids[:max_results]), encode_token(offset + max_results, fingerprint) if more else None)


def _fast_path_budget(conn: Connection, sample_query: Select[Any], wanted: int, key: str) -> int | None:
    """How many candidates to read for ``wanted`` rows, estimated from a small sample; None when
    the full query is the better plan (a selective filter, or a store small enough that the
    candidates would be a large share of it)."""
    matched = conn.execute(select(func.count()).select_from(sample_query.subquery())).scalar_one()
    if matched == 0:
        return None
    budget = math.ceil(FAST_PATH_SAMPLE * wanted / matched * FAST_PATH_SAFETY)
    if budget > FAST_PATH_CEILING:
        return None
    share = budget * FAST_PATH_SHARE
    if budget > FAST_PATH_SAMPLE and conn.execute(metric_population_query(key, share)).scalar_one() < share:
        return None  # fewer than ``share`` values: the candidates would be a large part of them
    return max(budget, FAST_PATH_SAMPLE)


def _top_by_metric(
    conn: Connection, queries: tuple[Select[Any], Select[Any]], budget: int, descending: bool, offset: int,
    max_results: int,
) -> list[str] | None:
    """The page from the metric's best candidates, or None when it might differ from the full query."""
    page_query, boundary_query = queries
    rows = conn.execute(page_query.limit(max_results + 1).offset(offset)).all()
    if len(rows) < max_results + 1:
        return None  # the page may continue into runs outside the candidates (or NaN/missing ones)
    count, worst = conn.execute(boundary_query).one()
    last = rows[-1].value
    exact = count < budget or (last > worst if descending else last < worst)
    return [row.id for row in rows] if exact else None
