"""Fixtures every test area uses.

``workspace`` is parametrised over the three transports: embedded SQLite, embedded PostgreSQL and
remote (a real server on a loopback socket over SQLite). A contract test that takes ``workspace``
runs against all three.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from slipway.core import fastpaths
from slipway.workspace import Workspace, open_workspace, set_default
from tests.support import in_process_cli, make_settings, platform_server, postgres_database


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., tuple[int, str, str]]]:
    """The real ``slipway`` entry point in-process, in a fresh home under ``tmp_path`` (the working
    folder), acting as the OS user with no server or settings from the environment: a call
    returns (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLIPWAY_HOME", str(tmp_path / "home"))
    for name in ("SLIPWAY_USER", "SLIPWAY_SERVER_URL", "SLIPWAY_STORE_URI", "SLIPWAY_SIGNING_KEY",
                 "SLIPWAY_CONFIG", "SLIPWAY_ARTIFACTS_URI"):
        monkeypatch.delenv(name, raising=False)
    set_default(None)
    yield in_process_cli(monkeypatch, capsys)
    set_default(None)


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
    and not slow"``) gives a quick loop without it; the full suite still runs them all.

    Then put the tests marked ``slow`` first (each keeps its place among them): pytest-xdist hands
    tests out in this order, so the long ones start while both workers are free and the short ones
    fill the end, instead of one worker finishing a long story alone."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        if ("pg_uri" in getattr(item, "fixturenames", ()) or params.get("workspace") == "postgres"
                or "postgres" in item.name.lower()):
            item.add_marker(pytest.mark.postgres)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fast-paths", choices=("on", "off"), default=None,
                     help="run the suite with Slipway's fast paths on or off (the same as SLIPWAY_FAST_PATHS=1/0)")


def pytest_configure(config: pytest.Config) -> None:
    """``--fast-paths=off`` (or ``SLIPWAY_FAST_PATHS=0 make test``): every test, and every CLI
    subprocess it starts, takes only the normal paths; the results must be the same."""
    choice = config.getoption("--fast-paths")
    if choice is not None:
        os.environ["SLIPWAY_FAST_PATHS"] = "1" if choice == "on" else "0"
    fastpaths.reset()


@pytest.fixture(autouse=True)
def _fast_path_tests_keep_them_on(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A test marked ``fast_path`` checks a shortcut itself, so it runs with the fast paths on
    even when the suite runs with them off."""
    if request.node.get_closest_marker("fast_path") is None or fastpaths.enabled():
        yield
        return
    monkeypatch.setenv("SLIPWAY_FAST_PATHS", "1")
    fastpaths.reset()
    yield
    monkeypatch.undo()
    fastpaths.reset()
