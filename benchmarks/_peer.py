"""Running a peer (MLflow, DVC, Feast, ...) side by side with Slipway, the way BENCHMARKS.md asks.

Standard library only, so a benchmark script can import it when it runs *inside a peer's
virtual environment* too (a script is usually both the driver and, with ``--worker``, the code
that runs in each side's process).

The pieces:

- :class:`Peer` — a pinned peer in its own venv under ``.bench/venv-<name>``, created on first use
  (``python3 -m venv`` + ``pip install``) and reused while the pins match.
- :func:`run_json` — run a Python script in a child process and parse the JSON object it prints
  last; report its wall time and its own peak RSS (``os.wait4``, so several children never mix).
- :class:`Background` — a long-lived child (a server): start, wait until an URL answers, stop,
  and get its peak RSS.
- :func:`alternate` — rounds A B A B … after a warm-up, so drift on a shared machine hits both.
- :func:`emit` — the JSON line per case (``workload, case, slipway, peer, unit, ratio,
  peer_version, checks``) printed as the last lines of stdout.

Example::

    mlflow = Peer("mlflow", ["mlflow==3.18.0"])
    python = mlflow.ensure()
    result = run_json(python, [__file__, "--worker", "mlflow"])
    print(result.payload["seconds"], result.peak_rss_mb)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / ".bench"
# The Python Slipway runs under (the repository's venv), for Slipway-side worker processes.
SLIPWAY_PYTHON = REPO / ".venv" / "bin" / "python"


def log(message: str) -> None:
    """Progress for humans goes to stderr, so stdout stays the JSON result lines."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclasses.dataclass(frozen=True)
class Peer:
    """A peer system pinned in its own virtual environment.

    Args:
        name: short name; the venv is ``.bench/venv-<name>``.
        requirements: pip requirement strings, pinned with ``==`` (the first names the peer's
            version in reports).
    """

    name: str
    requirements: Sequence[str]

    @property
    def venv(self) -> Path:
        return BENCH_DIR / f"venv-{self.name}"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def version(self) -> str:
        """``"mlflow 3.18.0"`` from the first requirement."""
        package, _, pin = self.requirements[0].partition("==")
        return f"{package} {pin}".strip()

    def ensure(self) -> Path:
        """Create the venv and install the pins if they are not there yet; return its Python."""
        marker = self.venv / ".slipway-bench-pins"
        wanted = "\n".join(self.requirements)
        if self.python.exists() and marker.exists() and marker.read_text() == wanted:
            return self.python
        log(f"creating {self.venv} with {', '.join(self.requirements)} (first use only)")
        BENCH_DIR.mkdir(exist_ok=True)
        if self.venv.exists():
            shutil.rmtree(self.venv)
        subprocess.run([_base_python(), "-m", "venv", str(self.venv)], check=True)
        # pip, not uv: pip honours the machine's pip.conf (mirrors, wheel folders, certificates).
        command = [str(self.python), "-m", "pip", "install", "-q", *self.requirements]
        subprocess.run(command, check=True, stdout=sys.stderr)
        marker.write_text(wanted)
        return self.python


def _base_python() -> str:
    # A venv made from another venv's python still works, but the system one is the clean base.
    return shutil.which("python3") or sys.executable


@dataclasses.dataclass(frozen=True)
class ChildResult:
    payload: dict[str, Any]
    wall_s: float
    peak_rss_mb: float


def _wait_with_rusage(process: subprocess.Popen[bytes], timeout: float) -> tuple[int, float]:
    """Wait for ``process``; return (exit code, peak RSS in MiB) of that child alone."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid == process.pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage.ru_maxrss / 1024.0  # Linux reports KiB
        if time.monotonic() > deadline:
            _kill_and_reap(process)
            raise TimeoutError(f"{process.args!r} did not finish within {timeout:.0f} s")
        time.sleep(0.02)


def _kill_and_reap(process: subprocess.Popen[bytes]) -> float:
    """SIGKILL ``process`` (its whole session if it leads one) and reap it; return its peak RSS."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss / 1024.0


def run_json(python: str | os.PathLike[str], args: Sequence[str], *, env: dict[str, str] | None = None,
             timeout: float = 3600.0, cwd: str | os.PathLike[str] | None = None) -> ChildResult:
    """Run ``python args…`` and parse the last line of its stdout as a JSON object.

    Raises:
        RuntimeError: the child failed or printed no JSON; its stderr tail is in the message.
    """
    full_env = {**os.environ, **(env or {})}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen([str(python), *args], stdout=out, stderr=err, env=full_env, cwd=cwd)
        code, peak = _wait_with_rusage(process, timeout)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    lines = [line for line in stdout.splitlines() if line.strip()]
    if code != 0 or not lines:
        raise RuntimeError(f"{' '.join(map(str, args))} exited {code}:\n{stderr[-3000:]}")
    try:
        payload = json.loads(lines[-1])
    except json.JSONDecodeError as error:
        raise RuntimeError(f"{' '.join(map(str, args))} printed no JSON last: {lines[-1][:300]!r}") from error
    return ChildResult(payload, wall, peak)


def _group_stats(group: int) -> Iterator[list[bytes]]:
    """The fields after the command name in ``/proc/PID/stat`` of every live process in process
    group ``group`` (Linux): state, ppid, pgrp, ... (a process that ends meanwhile drops out)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[2]) == group:
            yield fields


def group_rss_mb(group: int) -> float:
    """The summed resident memory (MiB) of every live process in process group ``group`` (Linux)."""
    pages = sum(int(fields[21]) for fields in _group_stats(group))  # rss: the 22nd field after the name
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024.0 * 1024.0)


def group_cpu_seconds(group: int) -> float:
    """The user + system CPU seconds used so far by every live process in process group ``group``
    (Linux; a process that ended meanwhile drops out, so compare while the group is stable)."""
    ticks = sum(int(fields[11]) + int(fields[12]) for fields in _group_stats(group))  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


class Background:
    """A long-running child process (a server), with its output kept in a log file."""

    def __init__(self, command: Sequence[str | os.PathLike[str]], *, env: dict[str, str] | None = None,
                 cwd: str | os.PathLike[str] | None = None, log_path: Path | None = None) -> None:
        self.command = [str(part) for part in command]
        self.log_path = log_path or Path(tempfile.mkstemp(prefix="bench-server-", suffix=".log")[1])
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        # A new session, so stop() can end the server's own workers too.
        self.process = subprocess.Popen(self.command, stdout=self._log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True)
        self.peak_rss_mb = 0.0
        # A server may be several processes (a launcher and its workers), so its memory is the
        # sum over its process group, sampled; wait4's figure covers only what the leader reaped.
        self._sampling = threading.Event()
        self._sampler = threading.Thread(target=self._sample_rss, daemon=True)
        self._sampler.start()

    def _sample_rss(self) -> None:
        while not self._sampling.wait(0.25):
            self.peak_rss_mb = max(self.peak_rss_mb, group_rss_mb(self.process.pid))

    def wait_http(self, url: str, timeout: float = 120.0) -> float:
        """Poll ``url`` until it answers 2xx; return how long that took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command[:3]} exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if 200 <= response.status < 300:
                        return time.monotonic() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")

    def stop(self) -> float:
        """Stop the server (SIGTERM to its session, then SIGKILL) and return its peak RSS in MiB."""
        self._sampling.set()
        self._sampler.join()
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            deadline = time.monotonic() + 60.0
            while self.process.returncode is None:
                pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
                if pid == self.process.pid:
                    self.process.returncode = os.waitstatus_to_exitcode(status)
                    self.peak_rss_mb = max(self.peak_rss_mb, usage.ru_maxrss / 1024.0)
                elif time.monotonic() > deadline:
                    self.peak_rss_mb = max(self.peak_rss_mb, _kill_and_reap(self.process))
                else:
                    time.sleep(0.05)
        self._log.close()
        return self.peak_rss_mb

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def alternate(rounds: int, sides: dict[str, Callable[[int], Any]], warmup: int = 1) -> dict[str, list[Any]]:
    """Call each side once per round, in turn (A B A B …), after ``warmup`` unrecorded rounds.

    Each callable gets the round number (negative for warm-ups) and returns that round's result.
    """
    results: dict[str, list[Any]] = {name: [] for name in sides}
    for number in range(-warmup, rounds):
        for name, side in sides.items():
            value = side(number)
            if number >= 0:
                results[name].append(value)
            log(f"round {number}: {name} -> {value if not isinstance(value, dict) else _short(value)}")
    return results


def _short(value: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in value.items()
                     if not isinstance(v, list | dict))


def free_port() -> int:
    """A TCP port free on the loopback interface now, for a server a benchmark starts."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


_CASE_RENAMES: dict[str, str] = {}


def rename_cases(renames: Mapping[str, str]) -> None:
    """Print these cases under other names from now on: a script whose case names carry the full
    size (``add_10k_files``) renames them when it runs smaller (``add_2k_files`` with ``--quick``)."""
    _CASE_RENAMES.update({old: new for old, new in renames.items() if old != new})


def emit(workload: str, case: str, slipway: float, peer: float, unit: str, ratio: float,
         peer_version: str, checks: str, **extra: Any) -> dict[str, Any]:
    """Print one result line (BENCHMARKS.md format) to stdout and return it.

    ``ratio`` is how many times better Slipway is; ``checks`` is ``"ok"`` only when both sides
    were verified to have done the same work. ``extra`` adds fields (memory, sample sizes).
    A case renamed by :func:`rename_cases` (a scaled-down run) is printed under its new name.
    """
    case = _CASE_RENAMES.get(case, case)
    line = {"workload": workload, "case": case, "slipway": round(slipway, 4), "peer": round(peer, 4),
            "unit": unit, "ratio": round(ratio, 2), "peer_version": peer_version, "checks": checks, **extra}
    print(json.dumps(line), flush=True)
    return line


def size_label(count: int) -> str:
    """A size as case names write it: 1,000,000 -> ``1m``, 100,000 -> ``100k``, 2,500 -> ``2500``.

    Cases are named by what they measured, so a ``--quick`` or scaled-down run never reports under
    the full-size name (``drift_100k_x_50``, not ``drift_1m_x_50``)."""
    if count % 1_000_000 == 0:
        return f"{count // 1_000_000}m"
    return f"{count // 1000}k" if count % 1000 == 0 else str(count)


def argument_parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark takes: ``--quick``, ``--rounds``, and ``--worker`` (internal)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes; finishes in about a minute")
    parser.add_argument("--rounds", type=int, default=None, help="measured rounds per side (default 3)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--spec", default=None, help=argparse.SUPPRESS)
    return parser


def worker_main(workers: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]], name: str, spec_json: str) -> None:
    """Run one worker function with its JSON spec and print its JSON result (the child's side)."""
    result = workers[name](json.loads(spec_json))
    print(json.dumps(result), flush=True)
