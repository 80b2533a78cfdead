"""Several inference worker processes on one port, restarted when one dies.

The supervisor binds the listening socket once and hands it to each worker (spawned, so each
loads its own models); the kernel spreads connections across the workers' accept queues. A
worker killed by a signal or a crash loses only the requests it was serving: the others keep
accepting, and the supervisor starts a replacement within ``check_seconds``. SIGTERM/SIGINT stop
every worker gracefully (each flushes its payload log and counters).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("slipway.serving.supervisor")


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class Supervisor:
    """Keeps ``workers`` processes running ``target(sock, **kwargs)``."""

    def __init__(self, target: Callable[..., None], kwargs: dict[str, Any], sock: socket.socket, workers: int,
                 check_seconds: float = 0.5,
                 on_restart: Callable[[int | None, int | None, int], None] | None = None) -> None:
        self.target = target
        self.kwargs = kwargs
        self.sock = sock
        self.workers = workers
        self.check_seconds = check_seconds
        self._context = multiprocessing.get_context("spawn")
        self.processes: list[Any] = []
        self.restarts = 0
        self.on_restart = on_restart  # (dead pid, its exit code, restarts so far): e.g. recorded in the ledger
        self._stop = threading.Event()

    def _spawn(self) -> Any:
        process = self._context.Process(target=self.target, kwargs={"sock": self.sock, **self.kwargs}, daemon=False)
        process.start()
        return process

    def run(self, background: Callable[[threading.Event], None] | None = None) -> None:
        """Start the workers and watch them until SIGTERM/SIGINT (or :meth:`stop`)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self._stop.set())
        self.processes = [self._spawn() for _ in range(self.workers)]
        thread = None
        if background is not None:
            thread = threading.Thread(target=background, args=(self._stop,), daemon=True)
            thread.start()
        try:
            while not self._stop.wait(self.check_seconds):
                self.replace_dead()
        finally:
            self.shutdown()
            if thread is not None:
                thread.join(timeout=5)

    def replace_dead(self) -> int:
        """Start a replacement for every worker that died; returns how many were replaced."""
        replaced = 0
        for index, process in enumerate(self.processes):
            if not process.is_alive():
                log.warning("worker pid %s exited with %s; starting a replacement", process.pid, process.exitcode)
                self.processes[index] = self._spawn()
                self.restarts += 1
                replaced += 1
                if self.on_restart is not None:
                    try:
                        self.on_restart(process.pid, process.exitcode, self.restarts)
                    except Exception as err:  # recording must never stop the supervision
                        log.warning("could not record the restart of worker pid %s: %s", process.pid, err)
        return replaced

    def stop(self) -> None:
        self._stop.set()

    def shutdown(self, timeout: float = 30.0) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes in-flight requests, the lifespan flushes
        deadline = time.monotonic() + timeout
        for process in self.processes:
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(5)
        self.sock.close()
