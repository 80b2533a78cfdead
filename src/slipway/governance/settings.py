"""``[governance]`` of the config file, typed: risk tiers, protected aliases, secrets, webhooks.

The registry reads ``protected_aliases`` and the tier names, the webhooks package its own nested
tables; they reach them through ``settings.domain("governance")`` (they sit below governance).
"""

from __future__ import annotations

import dataclasses
from typing import cast

from slipway.core.settings import Settings
from slipway.webhooks.settings import ServiceNowSettings, WebhookSettings


@dataclasses.dataclass(frozen=True)
class GovernanceSettings:
    # Approvals each risk tier needs, e.g. {"low": 1, "high": 2}; configured tiers are the only
    # tiers a model may have, and their counts override the defaults (low 1, medium 1, high 2).
    risk_tiers: dict[str, int] = dataclasses.field(default_factory=dict)
    # Aliases that need 'alias.protected' and an approved or deployed version (None: the defaults).
    protected_aliases: tuple[str, ...] | None = None
    # The HMAC secret that signs policy check results (else $SLIPWAY_HOME/governance-secret).
    signing_secret: str = dataclasses.field(default="", repr=False)
    # The key that seals webhook secrets at rest (else $SLIPWAY_HOME/secrets-key).
    secrets_key: str = dataclasses.field(default="", repr=False)
    # Run the webhook dispatcher inside 'slipway server'.
    dispatch_in_server: bool = True
    webhooks: WebhookSettings = dataclasses.field(default_factory=WebhookSettings)
    servicenow: ServiceNowSettings = dataclasses.field(default_factory=ServiceNowSettings)


def governance_settings(settings: Settings) -> GovernanceSettings:
    return cast(GovernanceSettings, settings.domain("governance"))
