"""Fixtures every test area uses.

``workspace`` is parametrised over the three transports: embedded SQLite, embedded PostgreSQL and
remote (a real server on a loopback socket over SQLite). A contract test that takes ``workspace``
runs against all three.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.workspace import Workspace, open_workspace, set_default
from tests.support import make_settings, platform_server, postgres_database


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def sqlite_ws(home: Path) -> Iterator[Workspace]:
    ws = open_workspace(make_settings(home))
    set_default(ws)
    yield ws
    ws.close()
    set_default(None)


@pytest.fixture
def pg_uri() -> Iterator[str]:
    with postgres_database() as uri:
        yield uri


@pytest.fixture(params=["sqlite", "postgres", "remote"])
def workspace(request: pytest.FixtureRequest, home: Path) -> Iterator[Workspace]:
    """The same workspace API over each transport."""
    if request.param == "sqlite":
        ws = open_workspace(make_settings(home))
        set_default(ws)
        yield ws
    elif request.param == "postgres":
        with postgres_database() as uri:
            ws = open_workspace(make_settings(home, store_uri=uri))
            set_default(ws)
            yield ws
            ws.close()
    else:
        server_home = home / "server"
        with platform_server(make_settings(server_home)) as (url, token):
            ws = open_workspace(make_settings(home / "client", server_url=url, token=token))
            set_default(ws)
            yield ws
            ws.close()
    set_default(None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the PostgreSQL server, so ``make test-fast`` (``-m "not postgres
    and not slow"``) gives a quick loop without it; the full suite still runs them all."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        if ("pg_uri" in getattr(item, "fixturenames", ()) or params.get("workspace") == "postgres"
                or "postgres" in item.name.lower()):
            item.add_marker(pytest.mark.postgres)
