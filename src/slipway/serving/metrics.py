"""Prometheus metrics of the inference server, labelled by deployment, variant, model and version.

Names follow Prometheus conventions (``_total`` counters, ``_seconds`` histograms). Each server
gets its own registry so several apps in one process (tests, benchmarks) do not collide. Label
children are cached per variant, so the hot path pays one dict lookup, not a label resolution.
"""

from __future__ import annotations

import dataclasses

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LABELS = ("deployment", "variant", "model", "version")
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServingMetrics:
    """Every metric family of one server."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("slipway_inference_requests_total", "Inference requests by outcome",
                                [*LABELS, "protocol", "code"], registry=r)
        self.latency = Histogram("slipway_inference_request_duration_seconds", "End-to-end request latency",
                                 LABELS, buckets=_LATENCY_BUCKETS, registry=r)
        self.queue_time = Histogram("slipway_inference_queue_seconds", "Time a request waited for its batch",
                                    LABELS, buckets=_LATENCY_BUCKETS, registry=r)
        self.batch_time = Histogram("slipway_inference_batch_seconds", "Model time per batch",
                                    LABELS, buckets=_LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("slipway_inference_batch_rows", "Rows per model batch",
                                    LABELS, buckets=_BATCH_BUCKETS, registry=r)
        self.in_flight = Gauge("slipway_inference_in_flight_requests", "Requests being served", LABELS, registry=r)
        self.shadow = Counter("slipway_inference_shadow_requests_total", "Mirrored shadow requests",
                              [*LABELS, "outcome"], registry=r)
        # Requests turned away before a model was chosen (unreadable body, unknown model, too
        # large, no token): they have no variant to label, so they are counted here.
        self.rejected = Counter("slipway_inference_rejected_requests_total",
                                "Requests refused before reaching a model", ["protocol", "code"], registry=r)
        # Business signals: feedback labels by the variant that answered the request (a click-through
        # rate per variant is rate(label="1") / rate(all labels)), and each variant's traffic share.
        self.feedback = Counter("slipway_inference_feedback_total", "Feedback labels, by the variant that answered",
                                [*LABELS, "label"], registry=r)
        self.weight = Gauge("slipway_deployment_variant_weight", "Percent of production traffic per variant",
                            [*LABELS, "role"], registry=r)
        self.payload_dropped = Counter("slipway_payload_log_waits_total",
                                       "Requests that waited for room in the payload log queue", registry=r)
        # The payload log's losses and backlog (see serving.payload): alert on any dropped row.
        self.payload_dropped_entries = Counter("slipway_payload_log_dropped_total",
                                            "Payload log entries lost (unreadable spool lines)", registry=r)
        self.payload_spool_errors = Counter("slipway_payload_spool_errors_total",
                                            "Failed writes to the payload log's local spool", registry=r)
        self.payload_write_failures = Counter("slipway_payload_segment_write_failures_total",
                                              "Failed payload segment writes (the rows are kept and retried)",
                                              registry=r)
        self.payload_unwritten_rows = Gauge("slipway_payload_log_unwritten_rows",
                                            "Payload log entries waiting for a retry of their segment write",
                                            registry=r)

    def set_weights(self, deployment: str, variants: list[tuple[str, str, str, str, float]]) -> None:
        """The traffic share of each (variant, model, version, role, weight), replacing the last set."""
        self.weight.clear()
        for name, model, version, role, weight in variants:
            self.weight.labels(deployment, name, model, version, role).set(weight)

    def for_variant(self, deployment: str, variant: str, model: str, version: str) -> VariantMetrics:
        labels = (deployment, variant, model, version)
        return VariantMetrics(
            labels=labels,
            latency=self.latency.labels(*labels), queue_time=self.queue_time.labels(*labels),
            batch_time=self.batch_time.labels(*labels), batch_size=self.batch_size.labels(*labels),
            in_flight=self.in_flight.labels(*labels), requests=self.requests,
        )


@dataclasses.dataclass
class VariantMetrics:
    """The metric children of one variant (label values bound once)."""

    labels: tuple[str, str, str, str]
    latency: Histogram
    queue_time: Histogram
    batch_time: Histogram
    batch_size: Histogram
    in_flight: Gauge
    requests: Counter
    _codes: dict[tuple[str, int], Counter] = dataclasses.field(default_factory=dict)

    def count(self, protocol: str, code: int) -> None:
        child = self._codes.get((protocol, code))
        if child is None:
            child = self._codes[(protocol, code)] = self.requests.labels(*self.labels, protocol, str(code))
        child.inc()
