"""The hand-checkable point-in-time table: late-arriving rows, ties on event time, rows outside the
TTL, and entity rows with no feature at all. ``EXPECTED`` is worked out by hand (see each line)."""

from __future__ import annotations

import datetime as dt

import pandas as pd


def t(day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, 1, day, hour, minute, tzinfo=dt.UTC)


TTL = "2d"
FEATURES = pd.DataFrame({
    "customer_id": [1, 1, 1, 1, 2],
    "event_timestamp": [t(1, 10), t(2, 10), t(2, 10), t(3, 9), t(1)],
    "created": [t(1, 10), t(2, 10), t(2, 12), t(5), t(1)],
    "amount_sum": [10.0, 20.0, 21.0, 30.0, 5.0],
    "txn_count": [1, 2, 3, 4, 1],
})
ENTITIES = pd.DataFrame({
    "customer_id": [1, 1, 1, 2, 2, 3, 1, 2],
    "event_timestamp": [t(1, 9), t(2, 11), t(3, 10), t(2, 12), t(4), t(2), t(5, 9, 30), t(3)],
    "label": [0, 1, 0, 1, 0, 1, 0, 1],
})
# One line per entity row, in order: (amount_sum, txn_count)
EXPECTED = [
    (None, None),   # before customer 1's first row
    (21.0, 3),      # two rows at 2 Jan 10:00: the one created last (12:00) wins
    (30.0, 4),      # the late-arriving row (event 3 Jan 09:00, created 5 Jan) is the latest by event time
    (5.0, 1),       # customer 2's row is 1 day 12 h old: within the 2-day TTL
    (None, None),   # 3 days old: outside the TTL
    (None, None),   # customer 3 has no feature rows at all
    (None, None),   # customer 1's newest row is 2 days 30 min old: outside the TTL
    (5.0, 1),       # exactly 2 days old: the TTL bound is inclusive
]
# With created_before_row, a row counts only once created: at 2 Jan 11:00 the row created at
# 12:00 is not visible yet (the 10:00 one is), and on 3 Jan 10:00 the late row (created 5 Jan) is not.
EXPECTED_NO_BACKFILL = [EXPECTED[0], (20.0, 2), (21.0, 3), *EXPECTED[3:]]

# One expectation per entity row: an edit to the table that forgets a line fails here, not as a
# confusing mismatch inside a join test.
assert len(EXPECTED) == len(EXPECTED_NO_BACKFILL) == len(ENTITIES), "one expected line per entity row"
assert set(FEATURES.columns) >= {"customer_id", "event_timestamp", "created"}
