"""Resident memory of a real ``slipway server`` under oversized and deeply nested requests.

Starts ``slipway server`` on a loopback port over a fresh SQLite home, measures its resident set
(psutil, sampled every 20 ms, plus the kernel's high-water mark ``VmHWM``) at rest, then under
each attack in turn, and prints one JSON object per case:

- ``declared_1gib_x32``: 32 connections at once each declare a 1 GiB body and start sending it;
- ``chunked_256mib_x8``: 8 connections at once stream 256 MiB each without a length (chunked);
- ``nested_100k``: JSON nested 100,000 deep (arrays, then objects), 8 at once, repeated;
- ``huge_array_x8``: arrays of 33 million items (just under the body limit), 8 at once;
- ``values_at_cap_x8``: bodies of 999,000 values (the most a body may hold), 8 at once;
- ``normal_after``: ordinary requests afterwards, to show the server still answers.

Each case reports the statuses it got, the peak RSS during the case and the RSS after it. Run:

    .venv/bin/python scripts/server_memory.py [--max-request-mib 64]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil

TOKEN = "slw_memory-measurement-token"
MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(max_request_bytes: int) -> Iterator[tuple[str, psutil.Process]]:
    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "SLIPWAY_HOME": home, "SLIPWAY_BOOTSTRAP_TOKEN": TOKEN,
               "SLIPWAY_MAX_REQUEST_BYTES": str(max_request_bytes)}
        slipway = Path(sys.executable).with_name("slipway")
        process = subprocess.Popen([str(slipway), "server", "--port", str(port)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(240):
                try:
                    if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            else:
                raise RuntimeError("the server did not start")
            yield url, psutil.Process(process.pid)
        finally:
            process.terminate()
            process.wait(30)


class PeakSampler:
    """The largest RSS of ``process`` seen while the block runs (sampled every 20 ms)."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> PeakSampler:
        self.peak = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def high_water_mib(process: psutil.Process) -> float | None:
    try:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def raw_post(url: str, path: str, head_extra: str, body: Iterator[bytes]) -> str:
    """POST ``body`` over a raw socket until the server answers; the status and the error type."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=120) as sock:
        sock.sendall((f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                      f"Content-Type: application/json\r\nConnection: close\r\n{head_extra}\r\n").encode())
        try:
            for chunk in body:
                sock.sendall(chunk)
        except OSError:
            pass  # the server answered and closed while the body was still being sent
        answer = b""
        try:
            while True:  # until the server closes the connection
                part = sock.recv(65536)
                if not part:
                    break
                answer += part
        except OSError:
            pass
    status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "closed"
    kind = ""
    if b"\r\n\r\n" in answer and not status.startswith("2"):
        try:
            kind = json.loads(answer.split(b"\r\n\r\n", 1)[1].split(b"\r\n")[-1] or b"{}")["error"]["type"]
        except (ValueError, KeyError, TypeError):
            kind = "not-json"
    return f"{status} {kind}".strip()


def declared(url: str, size: int) -> str:
    return raw_post(url, "/api/v1/tracking/create_experiment", f"Content-Length: {size}\r\n",
                    (b" " * MIB for _ in range(size // MIB)))


def chunked(url: str, size: int) -> str:
    piece = b" " * MIB
    frames = (f"{len(piece):x}\r\n".encode() + piece + b"\r\n" for _ in range(size // MIB))
    return raw_post(url, "/api/v1/tracking/list_experiments", "Transfer-Encoding: chunked\r\n", frames)


def fixed(url: str, path: str, body: bytes) -> str:
    return raw_post(url, path, f"Content-Length: {len(body)}\r\n", iter([body]))


def measure(process: psutil.Process, case: str, calls: list[Callable[[], str]], workers: int) -> dict[str, object]:
    before = process.memory_info().rss
    started = time.perf_counter()
    with PeakSampler(process) as sampler, concurrent.futures.ThreadPoolExecutor(workers) as pool:
        statuses = Counter(pool.map(lambda call: call(), calls))
    time.sleep(1.0)
    return {"workload": "server_memory", "case": case, "requests": len(calls), "concurrency": workers,
            "statuses": dict(statuses), "rss_before_mib": round(before / MIB, 1),
            "peak_rss_mib": round(max(sampler.peak, process.memory_info().rss) / MIB, 1),
            "rss_after_mib": round(process.memory_info().rss / MIB, 1),
            "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-request-mib", type=int, default=64, help="the server's max_request_bytes, in MiB")
    args = parser.parse_args()
    limit = args.max_request_mib * MIB
    depth = 100_000
    nested = [b'{"name": ' + b"[" * depth + b"]" * depth + b"}",
              b'{"name": "x", "tags": ' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"]
    # Just under the limit: millions of items in a list argument (the request model allows 5,000).
    items = (limit - 100) // 2
    at_cap = b'{"name": [' + b"1," * 999_000 + b"1]}"  # just under the 1,000,000 values a body may hold
    huge = [b'{"digests": [' + b"1," * items + b"1]}", b'{"name": [' + b"1," * items + b"1]}"]
    with server(limit) as (url, process):
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as client:
            for index in range(20):  # warm the paths every case goes through
                client.post("/api/v1/tracking/create_experiment", json={"name": f"warm-{index}"})
                client.post("/api/v1/tracking/list_experiments", json={})
        results = [
            {"workload": "server_memory", "case": "at_rest", "rss_mib": round(process.memory_info().rss / MIB, 1),
             "max_request_mib": args.max_request_mib},
            measure(process, "declared_1gib_x32", [lambda: declared(url, 1024 * MIB)] * 32, 32),
            measure(process, "chunked_256mib_x8", [lambda: chunked(url, 256 * MIB)] * 8, 8),
            measure(process, "nested_100k", [lambda b=b: fixed(url, "/api/v1/tracking/create_experiment", b)
                                             for b in nested] * 8, 8),
            measure(process, "huge_array_x8", [lambda p=p, b=b: fixed(url, p, b) for p, b in zip(
                ("/api/v1/blobs/missing", "/api/v1/tracking/create_experiment"), huge, strict=True)] * 4, 8),
            measure(process, "values_at_cap_x8", [lambda: fixed(url, "/api/v1/tracking/create_experiment", at_cap)] * 8, 8),
            measure(process, "normal_after", [lambda: fixed(url, "/api/v1/tracking/list_experiments", b"{}")] * 50, 4),
        ]
        results[0]["peak_rss_mib_whole_run"] = high_water_mib(process)
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
