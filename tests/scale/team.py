"""A team deployment on loopback: PostgreSQL for metadata, an S3 API for artifacts, and several
``slipway server`` processes (real subprocesses of the CLI) over those same stores."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from slipway.core.settings import load_settings
from slipway.workspace import Workspace, open_workspace
from tests.support import free_port, postgres_database, s3_server

ADMIN_TOKEN = "slw_team-admin-token"


@dataclasses.dataclass
class Team:
    store_uri: str
    artifacts_uri: str
    env: dict[str, str]  # what every server and CLI process of the team is given
    urls: list[str]
    processes: list[subprocess.Popen[bytes]]

    @property
    def server_url(self) -> str:
        """Every server, comma-separated: clients spread their calls over them."""
        return ",".join(self.urls)

    def connect(self, home: Path, token: str = ADMIN_TOKEN, server_url: str = "") -> Workspace:
        return open_workspace(load_settings(home=home, server_url=server_url or self.server_url, token=token,
                                            user="", store_uri="", artifacts_uri=""))

    def kill(self, index: int) -> None:
        """SIGKILL one server mid-work: no shutdown, no flush."""
        self.processes[index].send_signal(signal.SIGKILL)
        assert self.processes[index].wait(30) == -signal.SIGKILL, "the server ended before it was killed"


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180  # generous: the machine is shared
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server at {url} not ready: {log.read_text()[-3000:]}")


@contextlib.contextmanager
def team_deployment(root: Path, servers: int = 2, extra_env: dict[str, str] | None = None) -> Iterator[Team]:
    """``servers`` platform servers over one new PostgreSQL database and S3 bucket; ``extra_env``
    goes to every server (e.g. ``SLIPWAY_CONFIG``, ``SLIPWAY_ONLINE_STORE``)."""
    with postgres_database() as store_uri, s3_server() as (artifacts_uri, aws):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
        env.update(aws, SLIPWAY_STORE_URI=store_uri, SLIPWAY_ARTIFACTS_URI=artifacts_uri,
                   SLIPWAY_BOOTSTRAP_TOKEN=ADMIN_TOKEN, **(extra_env or {}))
        team = Team(store_uri, artifacts_uri, env, [], [])
        try:
            for index in range(servers):  # one after the other: the first migrates and makes the admin
                home = root / f"server-{index}"
                home.mkdir(parents=True)
                port = free_port()
                log = home / "server.log"
                with log.open("wb") as out:
                    process = subprocess.Popen(
                        [sys.executable, "-m", "slipway.cli.main", "server", "--port", str(port)],
                        env={**env, "SLIPWAY_HOME": str(home)}, stdout=out, stderr=subprocess.STDOUT)
                team.processes.append(process)
                team.urls.append(f"http://127.0.0.1:{port}")
                _wait_ready(team.urls[-1], process, log)
            assert len(set(team.urls)) == servers and all(p.poll() is None for p in team.processes)
            yield team
        finally:
            for process in team.processes:
                if process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(30)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait(30)
