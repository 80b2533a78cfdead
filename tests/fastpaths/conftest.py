"""Switching the fast paths (slipway.core.fastpaths) on and off inside one test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from slipway.core import fastpaths
from tests.serving.conftest import ai4i_data, champion_ws  # noqa: F401 - the same AI4I champion as tests/serving

Switch = Callable[[bool], None]


@pytest.fixture
def switch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Switch]:
    """``switch(True)`` / ``switch(False)``: the fast paths on or off from here on (the setting's
    environment variable, read again), with the counts of fast answers cleared."""

    def set_to(on: bool) -> None:
        monkeypatch.setenv("SLIPWAY_FAST_PATHS", "1" if on else "0")
        fastpaths.reset()

    yield set_to
    monkeypatch.undo()
    fastpaths.reset()
