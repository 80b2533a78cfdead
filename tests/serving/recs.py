"""A workspace with a MovieLens recommender registered and approved as recs@champion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from slipway.workspace import Workspace, open_workspace, set_default
from tests.models.movielens import fitted
from tests.serving.helpers import approve, register
from tests.support import make_settings

EXAMPLE = pd.DataFrame({"user_id": [1, 2], "exclude": ["", "1"]})


@pytest.fixture(name="recs_ws")
def recs_fixture(home: Path) -> Iterator[Workspace]:
    ws = open_workspace(make_settings(home))
    set_default(ws)
    version = register(ws, fitted(), "recs", EXAMPLE)
    approve(home, ws, f"recs/{version}")
    ws.registry.set_alias("recs", "champion", version)
    assert "champion" in ws.registry.get_version("recs", version).aliases
    yield ws
    ws.close()
    set_default(None)


