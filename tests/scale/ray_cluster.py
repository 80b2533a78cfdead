"""A real multi-node Ray cluster on this machine for the tests: one head and worker nodes, each a
``ray start --block`` process of its own.

Every node has its own temporary folder (``--temp-dir``: its sockets, logs and object spill) and
ports chosen free, so it never meets another Ray on this machine. ``--block`` keeps
the node's processes (GCS, raylet, its workers) as children of the ``ray start`` process (Ray's
own command, started through :mod:`tests.scale.ray_node` to wait longer for a slow node), which
runs in a session of its own: killing that process group is killing the node (what a lost
machine looks like to Ray), and stopping the cluster stops exactly these processes. ``ray stop``
is not used: it stops every Ray of the user on the machine, other sessions' included.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
# `ray start`, patient with a slow machine (tests/scale/ray_node.py).
RAY_START = [sys.executable, "-m", "tests.scale.ray_node", "start"]
# Ray 2.60 asks for token authentication unless told otherwise; the cluster is this machine's
# only. The raylet waits for its agents' ports longer than its default (a busy machine).
ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "RAY_agent_register_timeout_ms": "300000",
       "RAY_raylet_start_wait_time_s": "300", "PYTHONUNBUFFERED": "1"}
START_TIMEOUT_S = 180.0


@dataclasses.dataclass
class Node:
    name: str
    process: subprocess.Popen[bytes]
    temp_dir: Path
    log: Path
    node_id: str = ""

    def kill(self) -> None:
        """SIGKILL the node's whole process group: the raylet, its workers and the tasks they run."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):  # anything left in the group
            os.killpg(self.process.pid, signal.SIGKILL)


@dataclasses.dataclass
class Cluster:
    address: str
    head: Node
    workers: list[Node]
    root: Path

    def nodes_alive(self) -> dict[str, bool]:
        import ray

        return {n["NodeID"]: bool(n["Alive"]) for n in ray.nodes()}


def _ports() -> list[str]:
    ports = {name: free_port() for name in ("node-manager-port", "object-manager-port", "metrics-export-port",
                                            "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
                                            "runtime-env-agent-port")}
    base = random.randrange(30000, 60000, 200)
    args = [f"--{name}={port}" for name, port in ports.items()]
    return [*args, f"--min-worker-port={base}", f"--max-worker-port={base + 199}"]


def _boost() -> None:
    # The node starts at a higher priority, so its agents import within the raylet's fixed wait
    # on a busy machine; _start_node puts the whole node back to normal once it is up.
    with contextlib.suppress(OSError):
        os.nice(-10)


def _start(name: str, args: list[str], root: Path) -> Node:
    temp_dir = Path(tempfile.mkdtemp(prefix=f"r{name[:1]}", dir="/tmp"))  # short: Ray's socket paths are limited
    log = root / f"{name}.log"
    env = {**os.environ, **ENV}
    with log.open("wb") as out:
        process = subprocess.Popen([*RAY_START, "--block", "--disable-usage-stats",
                                    f"--temp-dir={temp_dir}", *args, *_ports()],
                                   stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=ROOT,
                                   preexec_fn=_boost)
    return Node(name, process, temp_dir, log)


def _wait_for_nodes(count: int, nodes: list[Node]) -> None:
    import ray

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        for node in nodes:
            if node.process.poll() is not None:
                raise RuntimeError(f"ray node {node.name} exited:\n{node.log.read_text()[-3000:]}")
        alive = [n for n in ray.nodes() if n["Alive"]]
        if len(alive) >= count:
            for node in nodes:
                for info in alive:
                    if info["Resources"].get(f"slipway_{node.name}"):
                        node.node_id = info["NodeID"]
            if all(node.node_id for node in nodes):
                return
        time.sleep(1.0)
    raise TimeoutError(f"the Ray cluster did not have {count} nodes after {START_TIMEOUT_S:.0f} s")


def _raylet_aborted(node: Node) -> bool:
    """Whether the node's raylet gave up: it waits a fixed 15 s for its agents to write their port
    files, and a busy two-core machine's agents can take longer to import."""
    return any(b"] (raylet) " in line and b" C " in line
               for log in node.temp_dir.glob("session_*/logs/raylet.out") for line in log.read_bytes().splitlines())


def _start_node(name: str, args: Any, root: Path, attempts: int = 8) -> Node:
    """A node started and registered (``ray start`` says "Ray runtime started."). Ray's start-up
    has fixed waits that a busy two-core machine can miss (the node's registration, the raylet's
    15 s wait for its agents): the node starts at a higher CPU priority (back to normal once up),
    and a node that gave up anyway is started again (fresh ports and folder)."""
    for attempt in range(attempts):
        node = _start(name, args(), root)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and node.process.poll() is None and not _raylet_aborted(node):
            if b"Ray runtime started." in node.log.read_bytes():
                with contextlib.suppress(OSError):
                    os.setpriority(os.PRIO_PGRP, node.process.pid, 0)
                return node
            time.sleep(1.0)
        node.stop()
        shutil.rmtree(node.temp_dir, ignore_errors=True)
        node.log.rename(node.log.with_suffix(f".{attempt}.log"))
    raise RuntimeError(f"ray node {name} did not start in {attempts} attempts:\n{node.log.with_suffix(f'.{attempt}.log').read_text()[-3000:]}")


@contextlib.contextmanager
def ray_cluster(root: Path, workers: int = 2) -> Iterator[Cluster]:
    """A head (``--num-cpus=1``) and ``workers`` worker nodes of one CPU each, this process
    connected to it as the driver; everything stopped and removed afterwards."""
    import ray

    for key, value in ENV.items():
        os.environ.setdefault(key, value)
    if ray.is_initialized():
        ray.shutdown()
    root.mkdir(parents=True, exist_ok=True)
    nodes: list[Node] = []
    ports: list[int] = []

    def head_args() -> list[str]:
        ports[:] = [free_port()]
        return ["--head", "--include-dashboard=false", f"--port={ports[0]}", "--num-cpus=1", '--resources={"slipway_head": 1}']

    try:
        head = _start_node("head", head_args, root)
        nodes.append(head)
        address = f"127.0.0.1:{ports[0]}"
        ray.init(address=address, log_to_driver=False, include_dashboard=False)
        for index in range(workers):
            name = f"worker{index + 1}"
            nodes.append(_start_node(name, lambda name=name: [f"--address={address}", "--num-cpus=1",
                                                              f'--resources={{"slipway_{name}": 1}}'], root))
        _wait_for_nodes(1 + workers, nodes)
        cluster = Cluster(address, head, nodes[1:], root)
        assert sum(cluster.nodes_alive().values()) == 1 + workers, cluster.nodes_alive()
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            ray.shutdown()
        for node in reversed(nodes):
            node.stop()
        for node in nodes:
            shutil.rmtree(node.temp_dir, ignore_errors=True)


def node_of_markers(folder: Path) -> dict[str, list[str]]:
    """``item -> [node id, …]`` from the marker files a step wrote as each attempt started."""
    found: dict[str, list[str]] = {}
    for marker in folder.glob("*.start"):
        item, node, attempt = marker.name.split(".", 2)
        assert attempt.endswith(".start") and item.isdigit(), marker.name
        found.setdefault(item, []).append(node)
    return found


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
