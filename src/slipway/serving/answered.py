"""Which variant answered each recent request, so feedback is counted per variant: a ring of fixed
size, allocated once when the server starts.

``POST /feedback`` names request ids; each label is counted for the variant that answered the
request. The last :data:`ANSWERED_KEPT` answers are remembered. They used to be an ``OrderedDict``
of request id to labels, which grew each worker by about 170 bytes a request (the id string, the
dict slot and the ordering node) until it held 100,000: about 17 MB a worker over the first
100,000 requests, which a soak cannot tell from a leak (and up to 4 KiB more a request with long
client-given ids). Here an answer is one slot of two preallocated arrays, overwritten when the
ring comes round: the id's 64-bit string hash (Python's, cached on the string, stable within the
process) and a small code for the variant's labels. 12 bytes a slot, the same whatever the ids
look like and however many requests are served. A lookup compares the wanted hashes with the
whole ring in one vectorised pass (well under a millisecond for 100,000 slots) and takes the most
recent match; a wrong attribution needs two ids among 100,000 answers with the same 64-bit hash.
"""

from __future__ import annotations

import array

import numpy as np

Labels = tuple[str, str, str, str]  # (deployment, variant, model, version), as VariantMetrics.labels
ANSWERED_KEPT = 100_000  # request ids remembered for feedback (1.2 MB a worker, allocated at start)


class AnsweredRing:
    """The variant labels of the last ``capacity`` answered requests, by request id."""

    def __init__(self, capacity: int = ANSWERED_KEPT) -> None:
        self.capacity = capacity
        self._hashes = array.array("q", bytes(8 * capacity))  # 0: an empty slot
        self._codes = array.array("I", bytes(4 * capacity))  # index into _labels; 0: an empty slot
        self._view = np.frombuffer(self._hashes, dtype=np.int64)
        self._labels: list[Labels | None] = [None]  # every labels tuple seen, once (a handful per deployment)
        self._code_of: dict[Labels, int] = {}
        self._next = 0  # the slot the next answer takes
        self._filled = 0

    def __len__(self) -> int:
        """The number of answers remembered (at most ``capacity``)."""
        return self._filled

    def add(self, request_id: str, labels: Labels) -> None:
        """Remember that ``labels``' variant answered ``request_id`` (the oldest answer is forgotten)."""
        code = self._code_of.get(labels)
        if code is None:
            code = self._code_of[labels] = len(self._labels)
            self._labels.append(labels)
        slot = self._next
        self._hashes[slot] = hash(request_id)
        self._codes[slot] = code
        self._next = slot + 1 if slot + 1 < self.capacity else 0
        if self._filled < self.capacity:
            self._filled += 1

    def find(self, request_ids: list[str]) -> list[Labels | None]:
        """The labels of the variant that most recently answered each id (None: not remembered)."""
        wanted = np.fromiter((hash(r) for r in request_ids), dtype=np.int64, count=len(request_ids))
        slots = np.flatnonzero(np.isin(self._view, wanted[wanted != 0]))
        newest: dict[int, int] = {}
        # Oldest first, so the most recent answer of a repeated id wins.
        for slot in slots[np.argsort((slots - self._next) % self.capacity, kind="stable")].tolist():
            newest[int(self._view[slot])] = self._codes[slot]
        return [self._labels[newest.get(h, 0)] for h in wanted.tolist()]
