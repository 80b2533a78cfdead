"""What ``audit verify`` and ``audit prove`` return."""

from __future__ import annotations

from typing import Any, TypedDict

from slipway.core.records import record


class PublishedCheckpoint(TypedDict):
    """What ``audit checkpoint`` answers: the signed checkpoint and where it was published."""

    checkpoint: dict[str, Any]
    published_to: list[str]


class RecordedBundle(TypedDict):
    """The ledger's registration event of a model version: its sequence number, the bundle digest
    it recorded and its leaf hash."""

    seq: int
    bundle_digest: str | None
    leaf_hash: str


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
