"""``[signin]`` of the config file, typed: how failed password sign-ins are throttled."""

from __future__ import annotations

import dataclasses
from typing import cast

from slipway.core.settings import Settings


@dataclasses.dataclass(frozen=True)
class SigninSettings:
    # Wrong passwords for one user name (existing or not) within window_s before it is locked out.
    max_failures: int = 5
    # Wrong passwords from one client address (any names) within window_s before it is locked out.
    max_failures_per_address: int = 20
    window_s: float = 900.0
    # The first lock-out; each further one in a row doubles it, up to max_lockout_s.
    lockout_s: float = 900.0
    max_lockout_s: float = 86_400.0


def signin_settings(settings: Settings) -> SigninSettings:
    return cast(SigninSettings, settings.domain("signin"))
