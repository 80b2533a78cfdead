"""What ``audit verify`` and ``audit prove`` return."""

from __future__ import annotations

from typing import Any

from slipway.core.records import record


@record
class Problem:
    """One thing verification found: which check, what is wrong, and the event or row it names."""

    check: str
    message: str
    seq: int | None = None
    subject: str | None = None


@record
class LedgerVerdict:
    ok: bool
    events: int
    first_bad_seq: int | None
    reason: str
    problems: list[Problem]
    checkpoints: int = 0
    tree_size: int = 0
    root_hash: str = ""
    warnings: list[str] | None = None


@record
class InclusionProof:
    """A self-contained proof (``document``) that an event is in a signed tree."""

    seq: int
    tree_size: int
    document: dict[str, Any]
