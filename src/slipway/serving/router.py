"""Which variant answers a request: weighted, optionally sticky, with shadows mirrored.

A :class:`Router` is immutable once built; the server swaps in a new one when the deployment's
revision changes, so a request keeps the router (and variant) it started with and none is dropped.
Loaded models and their batchers are reused across routers when the version did not change.
"""

from __future__ import annotations

import bisect
import functools
import random
import zlib
from dataclasses import dataclass, field

from slipway.core.errors import NotFound
from slipway.deploy.stats import VariantCounters
from slipway.serving.batching import MicroBatcher
from slipway.serving.features import FeatureLookup
from slipway.serving.metrics import VariantMetrics
from slipway.serving.model import ServedModel


@dataclass
class VariantRuntime:
    """A variant being served: its model, batcher, metric children and per-revision counters."""

    name: str
    role: str
    weight: float
    model: ServedModel
    batcher: MicroBatcher
    metrics: VariantMetrics
    counters: VariantCounters = field(default_factory=VariantCounters)

    @functools.cached_property
    def version_header(self) -> bytes:
        """The ``x-slipway-model-version`` header value, encoded once."""
        return f"{self.model.name}/{self.model.version}".encode("latin-1")

    @functools.cached_property
    def name_header(self) -> bytes:
        """The ``x-slipway-variant`` header value, encoded once."""
        return self.name.encode("latin-1")


class Router:
    """Picks the production variant for a request; lists the shadows to mirror it to."""

    def __init__(self, deployment: str, revision: int, variants: list[VariantRuntime], sticky_key: str = "",
                 features: FeatureLookup | None = None) -> None:
        self.deployment = deployment
        self.features = features  # the deployment's feature service, looked up per request
        self.revision = revision
        self.variants = variants
        self.sticky_key = sticky_key
        self.production = [v for v in variants if v.role != "shadow" and v.weight > 0]
        self.shadows = [v for v in variants if v.role == "shadow"]
        if not self.production:
            raise NotFound(f"deployment {deployment!r} has no variant with production traffic")
        total = sum(v.weight for v in self.production)
        running, self._edges = 0.0, []
        for v in self.production:
            running += v.weight / total
            self._edges.append(running)
        self._edges[-1] = 1.0
        self._random = random.Random()

    def choose(self, key: str | None = None) -> VariantRuntime:
        """A production variant by weight; the same ``key`` always gets the same variant."""
        if len(self.production) == 1:
            return self.production[0]
        point = (zlib.crc32(key.encode()) / 4294967296.0) if key else self._random.random()
        return self.production[min(bisect.bisect_right(self._edges, point), len(self.production) - 1)]

    def find(self, model_name: str, version: str | None = None) -> VariantRuntime | None:
        """None when the request should be routed by weight (the deployment's name or a served model's
        name); the variant pinned by ``version``; NotFound when nothing here matches."""
        names = {self.deployment} | {v.model.name for v in self.variants}
        if model_name in names and version is None:
            return None
        for v in self.production + self.shadows:
            if model_name in (v.model.name, self.deployment) and v.model.version == version:
                return v
        served = sorted({v.model.name + "/" + v.model.version for v in self.variants})
        raise NotFound(f"model {model_name!r}{f' version {version}' if version else ''} is not served here; "
                       f"serving {served}")

    def models(self) -> list[ServedModel]:
        return [v.model for v in self.variants]
