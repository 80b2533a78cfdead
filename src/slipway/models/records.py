"""What the models API returns."""

from __future__ import annotations

from typing import Any

from slipway.core.records import record


@record
class ModelInfo:
    """A logged model: where it is (``runs:/<run_id>/<artifact_path>``) and, if registered, its version."""

    uri: str
    run_id: str
    artifact_path: str
    bundle_digest: str
    flavor: str
    signature: dict[str, Any]
    registered_model_name: str | None = None
    version: int | None = None

    @property
    def model_ref(self) -> str | None:
        """``name/version`` when the model was registered."""
        return f"{self.registered_model_name}/{self.version}" if self.version is not None else None
