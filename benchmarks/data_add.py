"""Benchmark ``data_add``: versioning a large file and many small files, Slipway vs DVC.

Cases (BENCHMARKS.md):

- ``add_1gib_file`` — ``slipway data add NAME FILE`` vs ``dvc add FILE`` on the same 1 GiB file of
  random bytes (256 MiB with ``--quick``); each round starts from an empty store / fresh
  ``dvc init``, so both hash and copy every byte.
- ``add_10k_files`` — the same for a folder of 10,000 small files (2,000 with ``--quick``).
- ``status_unchanged_10k_files`` — with nothing changed: ``slipway data status NAME FOLDER`` vs
  ``dvc status``; both may use their stat caches (Slipway's stat cache, DVC's state database).
- ``status_unchanged_10k_files_watched`` — the same CLI status with ``slipway data watch FOLDER``
  running (started untimed before the rounds, like git's fsmonitor daemon): Slipway's fast path
  for a folder checked often; DVC has no equivalent, so it runs its plain ``dvc status``.
- ``status_unchanged_10k_files_api`` — the same status check through each tool's Python API
  (``ws.data.status`` vs ``dvc.repo.Repo().status()``) in a fresh process per round, timing only
  the call (after imports and opening the workspace / repository): the engines without start-up.
- ``hash_throughput_vs_blake3`` — Slipway's file hashing (``slipway.core.hashing.hash_file``) on
  the big file against BLAKE3's own multithreaded ``update_mmap`` on the same file, as the limit;
  ``ratio`` is Slipway's share of it (1.0 = at the limit).

Both sides run as their command-line tools in fresh processes (the way users run them), so
interpreter and import start-up count on both sides; peak RSS is each process's own (``wait4``).
Before each timed add, the set-up's deletes and the previous round's writes are flushed
(``os.sync``, untimed, on both sides), so neither side pays for the other's disk write-back.
Sides alternate (Slipway, DVC, Slipway, DVC …) after a warm-up round. ``checks`` is ``ok`` only
when every round of both sides recorded the same number of files and bytes (from Slipway's JSON
and DVC's ``.dvc`` file), and both status commands reported nothing changed. Run::

    .venv/bin/python benchmarks/data_add.py [--quick] [--rounds N] [--case NAME]
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peer  # noqa: E402 - after the path set-up above

WORKLOAD = "data_add"
DVC = _peer.Peer("dvc", ["dvc==3.67.1"])
CASES = ("add_1gib_file", "add_10k_files", "status_unchanged_10k_files", "status_unchanged_10k_files_watched",
         "status_unchanged_10k_files_api",
         "hash_throughput_vs_blake3")
SLIPWAY = _peer.SLIPWAY_PYTHON.with_name("slipway")
QUIET_DVC = {"DVC_NO_ANALYTICS": "1", "DVC_IGNORE_ISATTY": "1"}


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a timed command: bytecode caching on, as in any normal installation.

    (This machine sets PYTHONDONTWRITEBYTECODE, and neither venv was byte-compiled at install,
    so without this both sides would recompile every module they import on every run.)
    """
    env = {**os.environ, **(extra or {})}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a command; return (wall seconds, its peak RSS in MiB, its stdout and stderr)."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=child_env(env))
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{text[-3000:]}")
    return wall, usage.ru_maxrss / 1024.0, text


# -- data ------------------------------------------------------------------------------------
def make_big_file(path: Path, size: int) -> None:
    if path.exists() and path.stat().st_size == size:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # Small chunks: a child process reports at least its parent's peak RSS (Linux carries
    # ru_maxrss over fork and exec), so this driver must stay small for the figures to mean much.
    with open(path, "wb") as handle:
        for _ in range(size // (1 << 20)):
            handle.write(os.urandom(1 << 20))
        handle.write(os.urandom(size % (1 << 20)))


def make_many_files(folder: Path, count: int) -> None:
    """``count`` files of 1-8 KiB of random bytes, 100 per sub-folder (like a sharded data set)."""
    if folder.exists() and sum(len(f) for _, _, f in os.walk(folder)) == count:
        return
    shutil.rmtree(folder, ignore_errors=True)
    for i in range(count):
        sub = folder / f"shard-{i // 100:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"item-{i:05d}.bin").write_bytes(os.urandom(1024 + (i * 7919) % 7168))


def folder_bytes(folder: Path) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files)


# -- the two sides ---------------------------------------------------------------------------
class SlipwaySide:
    def __init__(self, root: Path) -> None:
        self.root = root

    def fresh(self) -> None:
        """An empty workspace, created before timing (as ``dvc init`` is for DVC)."""
        shutil.rmtree(self.root / "home", ignore_errors=True)
        timed([str(SLIPWAY), "data", "ls", "--json"], self.root, self.env)
        os.sync()  # the previous round's writes and deletes are flushed before timing (both sides)

    def add(self, name: str, path: Path) -> tuple[float, float, tuple[int, int]]:
        wall, rss, text = timed([str(SLIPWAY), "data", "add", name, str(path), "--json"], self.root, self.env)
        body = json.loads(text[text.index("{"):])
        return wall, rss, (body["file_count"], body["size"])

    def status(self, name: str, path: Path) -> tuple[float, float, bool]:
        wall, rss, text = timed([str(SLIPWAY), "data", "status", name, str(path), "--json"], self.root, self.env)
        return wall, rss, bool(json.loads(text[text.index("{"):])["clean"])

    def watch(self, path: Path, stop: bool = False) -> None:
        timed([str(SLIPWAY), "data", "watch", str(path), "--stop" if stop else "--detach"], self.root, self.env)

    @property
    def env(self) -> dict[str, str]:
        return {"SLIPWAY_HOME": str(self.root / "home")}


class DvcSide:
    def __init__(self, repo: Path, dvc: Path) -> None:
        self.repo = repo
        self.dvc = str(dvc)

    def fresh(self) -> None:
        shutil.rmtree(self.repo / ".dvc", ignore_errors=True)
        for stale in self.repo.glob("*.dvc"):
            stale.unlink()
        (self.repo / ".dvcignore").unlink(missing_ok=True)
        timed([self.dvc, "init", "--no-scm", "-q"], self.repo, QUIET_DVC)
        timed([self.dvc, "config", "core.analytics", "false"], self.repo, QUIET_DVC)
        os.sync()  # as for Slipway: no side pays for writing back the other side's files

    def add(self, path: Path) -> tuple[float, float, tuple[int, int]]:
        wall, rss, _ = timed([self.dvc, "add", "-q", path.name], self.repo, QUIET_DVC)
        import yaml

        out = yaml.safe_load((self.repo / f"{path.name}.dvc").read_text())["outs"][0]
        return wall, rss, (int(out.get("nfiles", 1)), int(out["size"]))

    def status(self) -> tuple[float, float, bool]:
        wall, rss, text = timed([self.dvc, "status"], self.repo, QUIET_DVC)
        return wall, rss, "up to date" in text


# -- cases -----------------------------------------------------------------------------------
def run_add_case(case: str, path: Path, expected: tuple[int, int], slip: SlipwaySide, dvc: DvcSide,
                 rounds: int) -> dict[str, Any]:
    name = path.name.replace(".", "-")
    work: dict[str, tuple[int, int]] = {}

    def slipway_round(number: int) -> dict[str, float]:
        slip.fresh()
        wall, rss, did = slip.add(name, path)
        work[f"slipway{number}"] = did
        return {"s": wall, "rss": rss}

    def dvc_round(number: int) -> dict[str, float]:
        dvc.fresh()
        wall, rss, did = dvc.add(path)
        work[f"dvc{number}"] = did
        return {"s": wall, "rss": rss}

    results = _peer.alternate(rounds, {"slipway": slipway_round, "dvc": dvc_round})
    ours = _peer.median([r["s"] for r in results["slipway"]])
    theirs = _peer.median([r["s"] for r in results["dvc"]])
    checks = "ok" if all(did == expected for did in work.values()) else f"mismatch: {work} != {expected}"
    return _peer.emit(WORKLOAD, case, ours, theirs, "s", theirs / ours, DVC.version, checks,
                      files=expected[0], bytes=expected[1],
                      slipway_peak_rss_mb=round(max(r["rss"] for r in results["slipway"]), 1),
                      peer_peak_rss_mb=round(max(r["rss"] for r in results["dvc"]), 1))


def run_status_case(folder: Path, slip: SlipwaySide, dvc: DvcSide, rounds: int,
                    case: str = "status_unchanged_10k_files") -> dict[str, Any]:
    name = folder.name.replace(".", "-")
    clean: list[bool] = []

    def slipway_round(_: int) -> dict[str, float]:
        wall, rss, ok = slip.status(name, folder)
        clean.append(ok)
        return {"s": wall, "rss": rss}

    def dvc_round(_: int) -> dict[str, float]:
        wall, rss, ok = dvc.status()
        clean.append(ok)
        return {"s": wall, "rss": rss}

    results = _peer.alternate(rounds, {"slipway": slipway_round, "dvc": dvc_round})
    ours = _peer.median([r["s"] for r in results["slipway"]])
    theirs = _peer.median([r["s"] for r in results["dvc"]])
    return _peer.emit(WORKLOAD, case, ours, theirs, "s", theirs / ours, DVC.version,
                      "ok" if all(clean) else "a side reported changes", files=sum(len(f) for _, _, f in os.walk(folder)),
                      slipway_peak_rss_mb=round(max(r["rss"] for r in results["slipway"]), 1),
                      peer_peak_rss_mb=round(max(r["rss"] for r in results["dvc"]), 1))


SLIPWAY_STATUS_API = """
import json, sys, time
from slipway.workspace import connect
ws = connect()
ws.data.get_version(sys.argv[1])
started = time.perf_counter()
report = ws.data.status(sys.argv[1], sys.argv[2])
print(json.dumps({"s": time.perf_counter() - started, "clean": report.clean}))
"""
DVC_STATUS_API = """
import json, time
from dvc.repo import Repo
repo = Repo(".")
started = time.perf_counter()
changes = repo.status()
print(json.dumps({"s": time.perf_counter() - started, "clean": not changes}))
"""


def run_status_api_case(folder: Path, slip: SlipwaySide, dvc: DvcSide, rounds: int) -> dict[str, Any]:
    name = folder.name.replace(".", "-")
    python = DVC.ensure()

    def slipway_round(_: int) -> dict[str, Any]:
        return _peer.run_json(_peer.SLIPWAY_PYTHON, ["-c", SLIPWAY_STATUS_API, name, str(folder)],
                              env=child_env(slip.env), cwd=slip.root).payload

    def dvc_round(_: int) -> dict[str, Any]:
        return _peer.run_json(python, ["-c", DVC_STATUS_API], env=child_env(QUIET_DVC), cwd=dvc.repo).payload

    results = _peer.alternate(rounds, {"slipway": slipway_round, "dvc": dvc_round})
    ours = _peer.median([r["s"] for r in results["slipway"]])
    theirs = _peer.median([r["s"] for r in results["dvc"]])
    clean = all(r["clean"] for side in results.values() for r in side)
    return _peer.emit(WORKLOAD, "status_unchanged_10k_files_api", ours, theirs, "s", theirs / ours, DVC.version,
                      "ok" if clean else "a side reported changes", files=sum(len(f) for _, _, f in os.walk(folder)))


def run_hash_case(path: Path, rounds: int) -> dict[str, Any]:
    import blake3

    from slipway.core.hashing import hash_file

    def raw(_: int) -> dict[str, Any]:
        started = time.perf_counter()
        hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
        hasher.update_mmap(str(path))
        return {"s": time.perf_counter() - started, "digest": hasher.hexdigest()}

    def ours(_: int) -> dict[str, Any]:
        started = time.perf_counter()
        digest = hash_file(path)
        return {"s": time.perf_counter() - started, "digest": digest}

    results = _peer.alternate(rounds, {"slipway": ours, "blake3": raw})
    size_gb = path.stat().st_size / 1e9
    slipway_rate = size_gb / _peer.median([r["s"] for r in results["slipway"]])
    limit_rate = size_gb / _peer.median([r["s"] for r in results["blake3"]])
    same = {r["digest"] for side in results.values() for r in side}
    return _peer.emit(WORKLOAD, "hash_throughput_vs_blake3", slipway_rate, limit_rate, "GB/s",
                      slipway_rate / limit_rate, f"blake3 {blake3.__version__} update_mmap",
                      "ok" if len(same) == 1 else "digests differ", bytes=path.stat().st_size)


def main() -> None:
    parser = _peer.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--case", choices=CASES, action="append", help="run only this case (repeatable)")
    args = parser.parse_args()
    cases = args.case or list(CASES)
    rounds = args.rounds or 3
    big_size = (256 << 20) if args.quick else (1 << 30)
    file_count = 2000 if args.quick else 10_000
    size_label = f"{big_size >> 30}gib" if big_size % (1 << 30) == 0 else f"{big_size >> 20}mib"
    _peer.rename_cases({case: case.replace("1gib", size_label).replace("10k", _peer.size_label(file_count))
                        for case in CASES})
    dvc = DvcSide(_peer.BENCH_DIR / "data_add" / "repo", DVC.ensure().with_name("dvc"))
    slip = SlipwaySide(_peer.BENCH_DIR / "data_add" / "slipway")
    dvc.repo.mkdir(parents=True, exist_ok=True)
    slip.root.mkdir(parents=True, exist_ok=True)
    big = dvc.repo / f"big-{big_size >> 20}mib.bin"
    many = dvc.repo / f"files-{file_count}"
    results = []
    if {"add_1gib_file", "hash_throughput_vs_blake3"} & set(cases):
        _peer.log(f"preparing {big}")
        make_big_file(big, big_size)
    status_cases = {"status_unchanged_10k_files", "status_unchanged_10k_files_watched",
                    "status_unchanged_10k_files_api"} & set(cases)
    if "add_10k_files" in cases or status_cases:
        _peer.log(f"preparing {many}")
        make_many_files(many, file_count)
    if "add_1gib_file" in cases:
        results.append(run_add_case("add_1gib_file", big, (1, big_size), slip, dvc, rounds))
    if "add_10k_files" in cases or status_cases:
        expected = (file_count, folder_bytes(many))
        if "add_10k_files" in cases:
            results.append(run_add_case("add_10k_files", many, expected, slip, dvc, rounds))
        else:  # status needs both sides to hold the folder already
            slip.fresh()
            dvc.fresh()
            slip.add(many.name.replace(".", "-"), many)
            dvc.add(many)
        status_rounds = max(rounds, 10)  # a status takes milliseconds: more rounds, steadier medians
        if "status_unchanged_10k_files" in cases:
            results.append(run_status_case(many, slip, dvc, status_rounds))
        if "status_unchanged_10k_files_watched" in cases:
            slip.watch(many)
            try:
                results.append(run_status_case(many, slip, dvc, status_rounds, "status_unchanged_10k_files_watched"))
            finally:
                slip.watch(many, stop=True)
        if "status_unchanged_10k_files_api" in cases:
            results.append(run_status_api_case(many, slip, dvc, rounds))
    if "hash_throughput_vs_blake3" in cases:
        # Last: it maps the big file into this process, and a child started after that would
        # report this process's peak RSS as its own (Linux keeps ru_maxrss across fork + exec).
        results.append(run_hash_case(big, rounds))
    if not results:
        raise SystemExit("nothing to run")


if __name__ == "__main__":
    main()
