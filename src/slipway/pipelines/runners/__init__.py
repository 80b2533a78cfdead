"""Where step functions execute: in-process (default), a process pool, or Ray.

A runner only runs functions and returns what they returned (or how they failed); the executor
in the driving process stores outputs, so every runner yields the same artifact digests.
"""

from __future__ import annotations

from typing import Any

from slipway.core.errors import InvalidInput
from slipway.pipelines.runners.base import Runner


def make_runner(name: str, **options: Any) -> Runner:
    """The runner called ``name``: ``inprocess``, ``process`` or ``ray``."""
    if name == "inprocess":
        from slipway.pipelines.runners.inprocess import InProcessRunner

        return InProcessRunner()
    if name == "process":
        from slipway.pipelines.runners.process_pool import ProcessPoolRunner

        return ProcessPoolRunner(**options)
    if name == "ray":
        from slipway.pipelines.runners.ray_runner import RayRunner

        return RayRunner(**options)
    raise InvalidInput(f"unknown runner {name!r}; use inprocess, process or ray")


__all__ = ["Runner", "make_runner"]
