"""``[audit]`` of the config file, typed: the checkpoint signing key and where checkpoints go."""

from __future__ import annotations

import dataclasses
from typing import cast

from slipway.core.settings import Settings


@dataclasses.dataclass(frozen=True)
class AuditSettings:
    # The Ed25519 private key that signs checkpoints, and the public key verify trusts.
    signing_key: str = ""
    public_key: str = ""
    # Where checkpoints are published: one location or a list (folders or fsspec URLs).
    checkpoints: str | tuple[str, ...] = ()
    # The name checkpoints carry (the log's identity, as in certificate transparency).
    origin: str = "slipway"


def audit_settings(settings: Settings) -> AuditSettings:
    return cast(AuditSettings, settings.domain("audit"))
