"""Running a run search: filter, experiments, order, a page of ids, then the runs themselves.

Page tokens are opaque: base64 of ``{"p": part, "o": offset, "q": fingerprint}`` (the answer may
come from several ordered queries, see :func:`run_id_queries`; ``p`` is which one the next page
starts in and ``o`` the offset within it). The fingerprint is a hash of the query, so a token handed to a different query is refused instead of silently
returning the wrong page.
"""

from __future__ import annotations

import base64
import binascii

import orjson
from sqlalchemy import Connection

from slipway.core.errors import InvalidInput
from slipway.core.hashing import hash_bytes
from slipway.tracking.records import RunPage
from slipway.tracking.rows import load_runs
from slipway.tracking.search import parse_filter, parse_order_by
from slipway.tracking.search_sql import run_id_queries

MAX_RESULTS = 50_000  # MLflow's limit too


def _fingerprint(filter: str, experiment_ids: list[str] | None, order_by: list[str], include_deleted: bool) -> str:
    body = orjson.dumps([filter, sorted(experiment_ids) if experiment_ids is not None else None, order_by, include_deleted])
    return hash_bytes(body)[:16]


def encode_token(part: int, offset: int, fingerprint: str) -> str:
    body = orjson.dumps({"p": part, "o": offset, "q": fingerprint})
    return base64.urlsafe_b64encode(body).decode().rstrip("=")


def decode_token(token: str, fingerprint: str) -> tuple[int, int]:
    """The (part, offset) a page token holds; InvalidInput if it is malformed or from another query."""
    if not isinstance(token, str):
        raise InvalidInput(f"a page token is a string, got {token!r}")
    try:
        padded = token + "=" * (-len(token) % 4)
        body = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        part, offset, owner = body["p"], body["o"], body["q"]
    except (binascii.Error, ValueError, TypeError, KeyError, orjson.JSONDecodeError, UnicodeEncodeError) as err:
        raise InvalidInput(f"page token {token[:40]!r} is malformed; pass the next_token of a previous page") from err
    if owner != fingerprint or not isinstance(offset, int) or offset < 0 or not isinstance(part, int) or part < 0:
        raise InvalidInput(f"page token {token[:40]!r} belongs to a different search; repeat the search from the start")
    return part, offset


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
    part, offset = decode_token(page_token, fingerprint) if page_token else (0, 0)
    queries = run_id_queries(node, order, conn.dialect.name, experiment_ids, include_deleted)
    ids: list[str] = []
    next_token = None
    while part < len(queries):
        # One row more than needed says whether there is a next page without a COUNT(*).
        wanted = max_results - len(ids)
        found = list(conn.execute(queries[part].limit(wanted + 1).offset(offset)).scalars())
        if len(found) > wanted:
            ids.extend(found[:wanted])
            next_token = encode_token(part, offset + wanted, fingerprint)
            break
        ids.extend(found)
        part, offset = part + 1, 0
        if len(ids) == max_results:
            # The page is full exactly at the end of a part: is anything left in the later parts?
            if any(conn.execute(q.limit(1)).first() for q in queries[part:]):
                next_token = encode_token(part, 0, fingerprint)
            break
    return RunPage(load_runs(conn, ids), next_token)
