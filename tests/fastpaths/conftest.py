"""Switching the fast paths (slipway.core.fastpaths) on and off inside one test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from slipway.core import fastpaths
from slipway.workspace import Workspace, open_workspace, set_default
from tests.serving.helpers import ai4i, champion
from tests.support import make_settings

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


@pytest.fixture(scope="session")
def ai4i_data() -> tuple[pd.DataFrame, pd.Series]:
    return ai4i(3000)


@pytest.fixture
def champion_ws(home: Path, ai4i_data: tuple[pd.DataFrame, pd.Series]) -> Iterator[tuple[Workspace, Any]]:
    """A workspace whose registry has the AI4I pipeline as ai4i@champion (as in tests/serving)."""
    ws = open_workspace(make_settings(home))
    set_default(ws)
    pipeline = champion(home, ws, *ai4i_data)
    yield ws, pipeline
    ws.close()
    set_default(None)
