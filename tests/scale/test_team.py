"""Two ``slipway server`` processes over one PostgreSQL and one S3 API: clients spread their calls
over both; concurrent writes through different servers stay unique and ordered; a retried write is
applied once; killing a server loses nothing that was acknowledged."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

import slipway
from slipway.core.errors import Conflict, InvalidInput
from slipway.workspace import Workspace, set_default
from tests.models.ai4i import ai4i, fitted_pipeline
from tests.scale.proxy import DroppingProxy
from tests.scale.team import ADMIN_TOKEN, Team, team_deployment
from tests.support import AI4I

pytestmark = pytest.mark.postgres


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    with team_deployment(tmp_path) as deployment:
        yield deployment


def _users(admin: Workspace, *names_roles: tuple[str, list[str]]) -> dict[str, str]:
    tokens = {}
    for name, roles in names_roles:
        admin.identity.create_user(name, roles)
        tokens[name] = admin.identity.create_token(name, "team").token
    return tokens


def test_writes_through_two_servers_stay_unique_and_ordered(team: Team, tmp_path: Path) -> None:
    admin = team.connect(tmp_path / "admin")
    tokens = _users(admin, ("alice", ["developer", "deployer", "approver"]), ("bob", ["approver"]),
                    ("carol", ["approver"]))
    # One workspace per server for each person, so both servers take writes for the same rows.
    alice = [team.connect(tmp_path / f"alice{i}", tokens["alice"], url) for i, url in enumerate(team.urls)]
    X, _ = ai4i()
    version = alice[0].data.add("ai4i", AI4I)  # the bytes go through server 0 into S3
    assert alice[1].data.get_version(version.ref).digest == version.digest

    runs = []
    set_default(alice[1])
    for index in range(6):
        with alice[1].tracking.start_run(f"r{index}", experiment="team") as run:
            alice[1].tracking.log_input(version)
            slipway.log_model(fitted_pipeline(), input_example=X.head(3))
        runs.append(run.id)
    set_default(None)
    with ThreadPoolExecutor(6) as pool:  # the model does not exist yet: the servers race to create it too
        versions = list(pool.map(lambda i: alice[i % 2].registry.register_version("race", runs[i]), range(6)))
    assert sorted(v.version for v in versions) == [1, 2, 3, 4, 5, 6]
    assert len(admin.audit.log(subject="registered_model:race", action="registry.create_model")) == 1

    # Alias moves through both servers at once: every move is in the history, in one order, and
    # the alias ends where the last move in that order put it.
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda i: alice[i % 2].registry.set_alias("race", "challenger", i + 1), range(6)))
    moves = admin.audit.log(action="registry.set_alias", limit=100)
    assert len(moves) == 6
    last = max(moves, key=lambda e: e.seq)
    assert admin.registry.resolve("race@challenger").version == last.details["version"]

    # Two approvers decide one request through different servers at the same moment: the first
    # decision completes it, the second is refused, and exactly one approval is recorded.
    request = alice[0].governance.request_approval("race/1", "team release")
    deciders = [team.connect(tmp_path / name, tokens[name], url) for name, url in zip(["bob", "carol"], team.urls,
                                                                                       strict=True)]
    barrier = threading.Barrier(2)

    def decide(ws: Workspace) -> str:
        barrier.wait()
        try:
            return ws.governance.approve(request.id, "ok").status
        except Conflict as err:
            return f"refused: {err}"

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(decide, deciders))
    assert sorted(o.split(":")[0] for o in outcomes) == ["approved", "refused"], outcomes
    assert len(admin.governance.get_request(request.id).decisions) == 1
    assert len(admin.audit.log(action="approval.approve")) == 1
    assert admin.audit.verify().ok
    for ws in (admin, *alice, *deciders):
        ws.close()


def test_a_retried_write_is_applied_once_on_any_server(team: Team, tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Idempotency-Key": uuid.uuid4().hex}
    body = {"name": "once"}
    first = httpx.post(f"{team.urls[0]}/api/v1/tracking/create_experiment", json=body, headers=headers)
    again = httpx.post(f"{team.urls[1]}/api/v1/tracking/create_experiment", json=body, headers=headers)
    assert first.status_code == again.status_code == 200 and first.content == again.content
    reused = httpx.post(f"{team.urls[1]}/api/v1/tracking/create_experiment", json={"name": "other"}, headers=headers)
    assert reused.status_code == 422 and "already used" in reused.json()["error"]["message"]
    with psycopg.connect(team.store_uri) as conn:  # a copy of the database shows neither key nor answer
        rows = conn.execute("SELECT key, response FROM idempotency_keys").fetchall()
    assert len(rows) == 1 and rows[0][0] != headers["Idempotency-Key"] and b"once" not in bytes(rows[0][1])

    # The Python client over a connection that drops after the server answered: the client sends
    # the call again (to the other server) with the same key, and gets the first answer back.
    with DroppingProxy(team.urls[0], "/api/v1/tracking/create_experiment") as proxy:
        ws = team.connect(tmp_path / "client", server_url=f"{proxy.url},{team.urls[1]}")
        experiment = ws.tracking.create_experiment("dropped")
        assert proxy.dropped == 1  # the first answer never reached the client
        names = [e.name for e in ws.tracking.list_experiments()]
        assert sorted(names) == ["dropped", "once"] and experiment.name == "dropped"
        assert len(ws.audit.log(action="experiment.create")) == 2
        with pytest.raises(InvalidInput):  # bad input is still bad input, once
            ws.tracking.create_experiment("")
        ws.close()


def test_killing_a_server_mid_work_loses_nothing_acknowledged(team: Team, tmp_path: Path) -> None:
    acknowledged: list[str] = []
    lock = threading.Lock()
    killed = threading.Event()

    def writer(worker: int) -> None:
        ws = team.connect(tmp_path / f"w{worker}")
        try:
            for index in range(15):
                name = f"w{worker}-{index}"
                ws.tracking.create_experiment(name)
                with lock:
                    acknowledged.append(name)
                    if len(acknowledged) == 20 and not killed.is_set():
                        killed.set()
                        team.kill(0)
        finally:
            ws.close()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(writer, range(4)))
    assert killed.is_set() and team.processes[0].poll() is not None
    survivor = team.connect(tmp_path / "check", server_url=team.urls[1])
    names = [e.name for e in survivor.tracking.list_experiments()]
    assert sorted(names) == sorted(acknowledged) and len(acknowledged) == 60  # all there, none twice
    assert survivor.audit.verify().ok
    survivor.close()


def test_the_cli_works_unchanged_across_both_servers(team: Team, tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {**team.env, "SLIPWAY_HOME": str(tmp_path / "cli"), "SLIPWAY_SERVER_URL": team.server_url,
           "SLIPWAY_TOKEN": ADMIN_TOKEN}
    for name in ("SLIPWAY_STORE_URI", "SLIPWAY_ARTIFACTS_URI", "SLIPWAY_BOOTSTRAP_TOKEN"):
        env.pop(name)  # a client knows only the servers

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "slipway.cli.main", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
        return done

    assert cli("data", "add", "ai4i", str(AI4I)).returncode == 0
    listed = cli("data", "ls", "--json")
    assert listed.returncode == 0 and "ai4i" in listed.stdout
    verified = cli("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
