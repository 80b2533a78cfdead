"""Tuning knobs of the inference server (from ``slipway serve`` flags or the ``serving`` config table)."""

from __future__ import annotations

import dataclasses
import os
import socket
from typing import Any

from slipway.core.settings import Settings


@dataclasses.dataclass(frozen=True)
class ServeOptions:
    max_body_bytes: int = 16 * 1024 * 1024
    max_batch_rows: int = 256
    max_wait_ms: float = 2.0
    reload_seconds: float = 2.0  # how often a deployment server checks for a new revision
    stats_seconds: float = 1.0  # how often counters go to the store for the canary controller
    controller: bool = True  # run the canary controller in this process
    controller_seconds: float = 1.0
    controller_lease_seconds: float = 15.0  # a dead controller replica's lease expires after this; another takes over
    payload_log: bool = True
    segment_rows: int = 5000
    flush_seconds: float = 2.0
    max_log_buffer_rows: int = 200_000
    spool_dir: str = ""  # the payload log's write-ahead spool (serving.spool); default: <home>/serving-spool
    spool_sync_seconds: float = 0.05  # how often the spool is fdatasync'ed (a kill loses nothing either way)
    inline_predict_ms: float = 1.0  # a model whose batches take less runs on the event loop, not a thread
    freeze_gc: bool = False  # a server process: move the loaded heap out of the garbage collector's scans
    auth: bool = False  # require a bearer token with the 'predict' permission (serving.auth)
    allow_unapproved: bool = False  # serve a MODEL_REF whose version is not approved (development only)
    environment: str = "development"  # where this server runs; see protected_environments
    protected_environments: tuple[str, ...] = ("production", "staging")  # never serve unapproved versions
    metrics_dir: str = ""  # with several workers: where each writes its metrics snapshot (serving.shared_metrics)
    metrics_seconds: float = 1.0
    worker_id: str = dataclasses.field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> ServeOptions:
        """The ``[serving]`` table (typed and checked when settings load) with explicit overrides."""
        options: ServeOptions = settings.domain("serving")
        # worker_id is this process's own (its default), never one cached with the settings
        values: dict[str, Any] = {f.name: getattr(options, f.name) for f in dataclasses.fields(cls) if f.name != "worker_id"}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
