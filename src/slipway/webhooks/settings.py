"""The webhooks' settings, tables inside ``[governance]`` of the config file (where they have
always been written): ``[governance.webhooks]`` and ``[governance.servicenow]``."""

from __future__ import annotations

import dataclasses
from typing import cast

from slipway.core.settings import Settings


@dataclasses.dataclass(frozen=True)
class WebhookSettings:
    """Delivery retries: attempts, exponential backoff from ``base_delay_s`` up to ``max_delay_s``."""

    max_attempts: int = 8
    base_delay_s: float = 2.0
    max_delay_s: float = 3600.0
    timeout_s: float = 5.0
    interval_s: float = 1.0  # how often a server's background dispatcher looks for due deliveries


@dataclasses.dataclass(frozen=True)
class ServiceNowSettings:
    """The Table API connection (credentials kept in settings, never in the database).

    ``instance_url`` set turns on ticketed sign-off: an approval request of a model whose risk
    tier is in ``tiers`` opens a ``change_request`` there (``slipway.governance.tickets``), and
    the ticket's approval becomes the approver of record. Auth is basic (``username`` and
    ``password``) or an OAuth bearer ``token``.
    """

    username: str = ""
    password: str = dataclasses.field(default="", repr=False)
    instance_url: str = ""
    token: str = dataclasses.field(default="", repr=False)
    tiers: tuple[str, ...] = ("high",)
    # Upload the evidence pack (a zip) to the change with the Attachment API; else only link it.
    attach_evidence: bool = True
    assignment_group: str = ""
    timeout_s: float = 10.0
    # The secret signing ServiceNow's callbacks when no 'servicenow' webhook holds one (ticketed sign-off).
    callback_secret: str = dataclasses.field(default="", repr=False)
    # How often 'slipway scheduler' polls the open change requests (seconds; 0 turns polling off).
    sync_interval_s: float = 60.0


def webhook_settings(settings: Settings) -> WebhookSettings:
    return cast(WebhookSettings, settings.domain("governance").webhooks)


def servicenow_settings(settings: Settings) -> ServiceNowSettings:
    return cast(ServiceNowSettings, settings.domain("governance").servicenow)


def secrets_key(settings: Settings) -> str:
    return cast(str, settings.domain("governance").secrets_key)


def dispatch_in_server(settings: Settings) -> bool:
    return cast(bool, settings.domain("governance").dispatch_in_server)
