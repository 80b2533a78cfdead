"""The entity rows of one view as *slots*, for the streamed point-in-time join.

The usable entity rows (a key and a time) are grouped by key, each group in time order; position
``p`` is a slot. A feature row of key ``k`` at time ``t`` belongs to the first slot of group ``k``
whose time is at or after ``t`` (a binary search inside the group, vectorised over a batch), and
each slot keeps the latest (event, then created time) feature row that belongs to it. The rows
of a later slot of a group are all later than those of an earlier one, so an entity row's answer
is the best row of the last filled slot at or before it in its group: one forward fill at the
end. The work per feature batch is proportional to the batch (a few gathers per row), not to the
entity table, and the state is a few arrays as long as the entity table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_NONE = np.iinfo(np.int64).min


class NullCreatedTime(Exception):
    """A feature row has an event time but no created time."""


class Slots:
    """The slots of one view's join (see the module docstring).

    Args:
        rows: the entity row of each slot, slots in (group, time) order.
        times: each slot's entity time (microseconds).
        offsets: group ``g`` holds slots ``offsets[g]`` to ``offsets[g + 1]``.
        dtypes: the NumPy type of each feature.
    """

    def __init__(self, rows: np.ndarray, times: np.ndarray, offsets: np.ndarray, dtypes: list[Any]) -> None:
        self.rows, self.times, self.offsets = rows, times, offsets
        size = len(rows)
        self.best_t = np.full(size, _NONE, np.int64)
        self.best_c = np.full(size, _NONE, np.int64)
        self.values = [np.zeros(size, dtype) for dtype in dtypes]
        self.nulls = [np.ones(size, bool) for _ in dtypes]
        widest = int(np.diff(offsets).max()) if len(offsets) > 1 else 0
        self._steps = widest.bit_length()  # binary-search steps for the largest group

    def slot_of(self, group: np.ndarray, t: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The slot of each feature row (its group, its time) that has one, and those rows' indices
        (in ``rows``, the batch rows the groups and times are of, when given). Thread-safe: it
        only reads."""
        base, end = self.offsets[group], self.offsets[group + 1]
        picked = np.flatnonzero(base < end)
        if len(picked) < len(group):
            base, end, t = base[picked], end[picked], t[picked]
        size = end - base
        times = self.times
        for _ in range(self._steps):  # branchless lower bound of t in times[base:end], all rows at once
            half = size >> 1
            probe = base + half
            np.copyto(base, probe, where=times[probe] < t)
            size -= half
        base += times[base] < t
        inside = base < end
        picked = picked[inside]
        return base[inside], picked if rows is None else rows[picked]

    def merge(self, batch: pa.RecordBatch, slot: np.ndarray, taken: np.ndarray, created: bool) -> None:
        """Let each slot take this batch's latest row that belongs to it, if later than its best.

        ``batch``: key, event time, created time (µs), then the features; ``slot``, ``taken``:
        what :meth:`slot_of` found for it.

        Raises:
            NullCreatedTime: ``created`` and a row has no created time.
        """
        if created and batch.column(2).null_count:
            raise NullCreatedTime()
        if not len(slot):
            return
        t = batch.column(1).to_numpy()[taken]
        before = self.best_t[slot]
        np.maximum.at(self.best_t, slot, t)
        after = self.best_t[slot]
        win = t == after
        if created:
            self.best_c[slot[after > before]] = _NONE  # a later event time: its created time starts over
            c = batch.column(2).to_numpy()[taken]
            np.maximum.at(self.best_c, slot[win], c[win])
            win &= c == self.best_c[slot]
        slot, taken = slot[win], taken[win]
        for i in range(len(self.values)):
            self._take(batch.column(3 + i), taken, slot, i)

    def _take(self, column: pa.Array, taken: np.ndarray, slot: np.ndarray, i: int) -> None:
        if column.null_count == 0 and not pa.types.is_boolean(column.type):
            self.values[i][slot] = column.to_numpy()[taken]
            self.nulls[i][slot] = False
            return
        picked = column.take(pa.array(taken))
        self.nulls[i][slot] = picked.is_null().to_numpy(zero_copy_only=False)
        self.values[i][slot] = pc.fill_null(picked, False if pa.types.is_boolean(picked.type) else 0).to_numpy(
            zero_copy_only=False)

    def columns(self, n: int, ttl_us: int | None, types: list[pa.DataType]) -> list[pa.Array]:
        """Each feature's column over the ``n`` entity rows, in their order: the best row of the
        last filled slot at or before each row in its group, null past the TTL or with none."""
        size = len(self.rows)
        last = np.where(self.best_t != _NONE, np.arange(size), -1)
        np.maximum.accumulate(last, out=last)
        starts = np.repeat(self.offsets[:-1], np.diff(self.offsets))
        found = last >= starts
        source = np.where(found, last, 0)
        if ttl_us is not None:
            found &= self.best_t[source] >= self.times - ttl_us
        rows, source = self.rows[found], source[found]
        out = []
        for values, nulls, kind in zip(self.values, self.nulls, types, strict=True):
            column = np.zeros(n, values.dtype)
            missing = np.ones(n, bool)
            column[rows] = values[source]
            missing[rows] = nulls[source]
            out.append(pa.array(column, kind, mask=missing))
        return out
