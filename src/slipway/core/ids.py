"""Identifiers: 32 hex characters, time-ordered so that ids sort by creation."""

from __future__ import annotations

import os
import time


def new_id() -> str:
    """A 128-bit id: 48 bits of milliseconds then 80 random bits, as hex."""
    return f"{int(time.time() * 1000):012x}{os.urandom(10).hex()}"
