"""A deployment that declares a feature service: requests carry entity keys, the server adds features.

```yaml
name: fraud-prod
variants: [{name: stable, model: fraud@champion}]
features: {service: fraud, on_missing: reject}     # or on_missing: "null"
```

The request body has the usual shape of its protocol (``/invocations`` records or split, v1
``instances``, v2 ``inputs``) but only the join keys and any request-time data the service's
on-demand views read. :class:`FeatureLookup` reads the service's features from the online store
(``ws.features.online``: the same lookup, TTL and per-value status as everywhere), runs the
on-demand views with the code training used, and builds the model's frame from the signature's
columns. The payload log receives every column, keys, request data and features, so monitoring
sees what the model saw.

A value that is not ``present`` (``missing``: never materialised; ``expired``: older than its
view's TTL) makes the request fail with 422 naming the feature, its status and the entity
(``on_missing: reject``, the default); with ``on_missing: "null"`` the model gets a null (NaN in a
float column) and must cope with it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import numpy as np

from slipway.core.errors import InvalidInput
from slipway.serving.frame import Frame, frame_from_columns
from slipway.serving.protocol_rows import decode_invocations, decode_v1
from slipway.serving.protocol_v2 import decode_infer_request
from slipway.serving.signature import Signature

ON_MISSING = ("reject", "null")
_ANY = Signature()


class FeatureUnavailable(Exception):
    """A feature the model needs is missing or expired for an entity of the request: the handler
    answers 422 with the message (it never leaves the server)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclasses.dataclass
class Enriched:
    """A request's columns (keys, request data) with the features looked up for its rows."""

    columns: dict[str, np.ndarray]
    features: list[str]
    n_rows: int

    def frame_for(self, signature: Signature) -> Frame:
        """The model's input: its signature's columns, or the service's features in order."""
        if signature.columns:
            missing = [n for n in signature.names if n not in self.columns]
            if missing:
                raise InvalidInput(f"the model expects {missing[0]!r}, which is neither a feature of the "
                                   f"deployment's feature service nor in the request")
            return frame_from_columns({n: self.columns[n] for n in signature.names}, signature)
        return frame_from_columns({n: self.columns[n] for n in self.features}, signature)

    def logged(self) -> Frame:
        """Every column, for the payload log."""
        return Frame(dict(self.columns), self.n_rows)


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def request_columns(body: Any, protocol: str) -> Frame:
    """The request's own columns (keys and request data), whatever its protocol's shape."""
    if protocol == "v2":
        return decode_infer_request(body, _ANY)[0]
    if protocol == "v1":
        return decode_v1(body, _ANY)
    return decode_invocations(body, _ANY)


class FeatureLookup:
    """Looks up a deployment's feature service for each request (see the module docstring)."""

    def __init__(self, workspace: Any, service: str, on_missing: str = "reject") -> None:
        if on_missing not in ON_MISSING:
            raise InvalidInput(f"features.on_missing must be one of {list(ON_MISSING)}, got {on_missing!r}")
        self.workspace = workspace
        self.service = service
        self.on_missing = on_missing
        workspace.features.get("feature_service", service)  # NotFound now, not at the first request

    def lookup(self, request: Frame) -> Enriched:
        """The request's columns and its features (blocking: call off-loop)."""
        names = list(request.columns)
        rows = [{n: _python(request.columns[n][i]) for n in names} for i in range(request.n_rows)]
        result = self.workspace.features.online(self.service, rows)
        if self.on_missing == "reject":
            for name in result.features:
                for index, state in enumerate(result.status.get(name, [])):
                    if state != "present":
                        keys = dict(rows[index])
                        raise FeatureUnavailable(f"feature {name!r} is {state} for entity {keys} "
                                                 f"(feature service {self.service})")
        columns = dict(request.columns)
        for name in result.features:
            values = result.values[name]
            if any(v is None for v in values):
                values = [np.nan if v is None else v for v in values]
            columns[name] = np.asarray(values) if not any(isinstance(v, str) for v in values) else \
                np.asarray(values, dtype=object)
        return Enriched(columns, list(result.features), request.n_rows)

    async def enrich(self, body: Any, protocol: str) -> Enriched:
        return await asyncio.to_thread(self.lookup, request_columns(body, protocol))


def lookup_for(workspace: Any, spec: dict[str, Any]) -> FeatureLookup | None:
    """The lookup a deployment spec declares (its ``features`` table), or None."""
    table = spec.get("features") or {}
    if not table.get("service"):
        return None
    return FeatureLookup(workspace, str(table["service"]), str(table.get("on_missing", "reject")))
