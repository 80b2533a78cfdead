"""Benchmark ``scale`` (data): ``slipway data add`` and ``status`` as the data grows.

Two curves, each through the CLI in fresh processes (as ``benchmarks/data_add.py`` runs it):

- ``data_bytes`` — one file of random bytes of 1 GiB and 10 GiB (``--gib 1,10``; 100 GiB needs
  about 2 x 100 GiB free, the file and the store's copy of it);
- ``data_files`` — a folder of 10k, 100k and 1M files of 1-8 KiB (``--files``), 100 per
  sub-folder.

For each size: an empty workspace (``SLIPWAY_HOME`` on the same disk), ``slipway data add NAME
PATH`` (hashes and copies every byte), then ``slipway data status NAME PATH`` with nothing changed
(``--rounds`` times; the stat cache answers). ``add`` is timed once per size (a 10 GiB add is the
measurement), ``status`` as the median of its rounds. Before each timed command the page cache's
dirty pages are flushed (``os.sync``, untimed). Checks: ``add`` recorded the number of files and
bytes that were written, and every status reported the data clean. The data is deleted after
each size. Exponents are fitted like ``scale.py``'s (1 = linear in the size). Run::

    .venv/bin/python benchmarks/scale_data.py [--quick] [--gib 1,10] [--files 10000,100000,1000000]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _peer  # noqa: E402
from data_add import SlipwaySide, folder_bytes, make_big_file, make_many_files  # noqa: E402

import scale  # noqa: E402

GIB = 1 << 30


def measure_size(family: str, size: int, path: Path, expected: tuple[int, int], rounds: int) -> list[dict[str, Any]]:
    side = SlipwaySide(path.parent / "slipway")
    side.root.mkdir(parents=True, exist_ok=True)
    side.fresh()
    add_s, add_rss, recorded = side.add("scaled", path)
    statuses = []
    clean = True
    for _ in range(rounds):
        os.sync()
        wall, status_rss, ok = side.status("scaled", path)
        statuses.append(wall)
        clean = clean and ok
    checks = "ok" if recorded == expected and clean else "failed"
    load = round(os.getloadavg()[0], 1)
    points = [{"curve": f"{family}.add", "size": size, "p50_ms": round(add_s * 1000, 1), "peak_rss_mb": round(add_rss),
               "mb_per_s": round(expected[1] / 2**20 / add_s, 1), "files": expected[0], "bytes": expected[1],
               "checks": checks, "load_average": load},
              {"curve": f"{family}.status_unchanged", "size": size, "p50_ms": round(statistics.median(statuses) * 1000, 1),
               "peak_rss_mb": round(status_rss), "calls": rounds, "checks": checks, "load_average": load}]
    for point in points:
        print(json.dumps({"workload": scale.WORKLOAD, **point}), flush=True)
    shutil.rmtree(side.root, ignore_errors=True)
    return points


def main() -> None:
    parser = _peer.argument_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--gib", default="")
    parser.add_argument("--files", default="")
    args = parser.parse_args()
    gib = [float(s) for s in (args.gib or ("0.25,1" if args.quick else "1,10")).split(",") if s]
    files = [int(s) for s in (args.files or ("1000,10000" if args.quick else "10000,100000,1000000")).split(",") if s]
    root = _peer.BENCH_DIR / "scale_data"
    points: list[dict[str, Any]] = []
    for size in gib:
        nbytes = int(size * GIB)
        free = shutil.disk_usage(_peer.BENCH_DIR).free
        if free < 2.2 * nbytes:
            _peer.log(f"data_bytes: {size} GiB skipped: needs {2.2 * nbytes / GIB:.0f} GiB free, {free / GIB:.0f} there")
            continue
        shutil.rmtree(root, ignore_errors=True)
        began = time.perf_counter()
        make_big_file(root / "big.bin", nbytes)
        _peer.log(f"data_bytes: {size} GiB written in {time.perf_counter() - began:.0f} s")
        points += measure_size("data_bytes", nbytes, root / "big.bin", (1, nbytes), args.rounds or 3)
    for count in files:
        shutil.rmtree(root, ignore_errors=True)
        began = time.perf_counter()
        make_many_files(root / "many", count)
        _peer.log(f"data_files: {count:,} files written in {time.perf_counter() - began:.0f} s")
        points += measure_size("data_files", count, root / "many", (count, folder_bytes(root / "many")), args.rounds or 3)
    shutil.rmtree(root, ignore_errors=True)
    scale.finish(points, "scale-data-results.json")


if __name__ == "__main__":
    main()
