"""``/metrics`` summed over a server's worker processes.

With ``--workers N`` the kernel hands each scrape to whichever worker accepts it, and each worker
counts only its own requests. So every worker writes a snapshot of its registry (the Prometheus
text format, as ``generate_latest`` makes it) into a folder the supervisor made, once a second
and when it stops, and ``/metrics`` answers with the samples of all snapshots added up: counters,
histogram buckets, sums and counts and the in-flight gauges add; ``*_created`` timestamps take
the earliest. The worker answering writes its own snapshot first, so its figures are current and
the others' at most a second old. A worker that was killed keeps its last snapshot, so the
counters never go backwards when the supervisor replaces it.

Writing the snapshot is off the request path (a background task), so serving pays nothing for it.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.utils import floatToGoString

from slipway.core.files import write_atomically

SUFFIX = ".prom"


def write_snapshot(folder: str, worker_id: str, registry: CollectorRegistry) -> None:
    """Replace this worker's snapshot in ``folder`` atomically (readers never see half of one)."""
    # The periodic task and a scrape may write at once (two threads of one process).
    write_atomically(Path(folder) / f"{worker_id}{SUFFIX}", generate_latest(registry))


def merged(folder: str) -> bytes:
    """The text format of every snapshot in ``folder``, sample by sample added up, each metric
    family's lines kept together (as the format requires)."""
    families: dict[str, tuple[list[str], dict[str, float]]] = {}  # family -> (HELP/TYPE lines, samples)
    for path in sorted(Path(folder).glob(f"*{SUFFIX}")):
        try:
            text = path.read_text()
        except FileNotFoundError:
            continue  # replaced between the listing and the read: the next scrape has it
        comments, samples = families.setdefault("", ([], {}))
        for line in text.splitlines():
            if line.startswith("# HELP ") or line.startswith("# TYPE "):
                name = line.split(" ", 3)[2]
                comments, samples = families.setdefault(name, ([], {}))
                if line not in comments:
                    comments.append(line)
            elif line and not line.startswith("#"):
                key, _, raw = line.rpartition(" ")
                value = float(raw)
                if key not in samples:
                    samples[key] = value
                elif key.partition("{")[0].endswith("_created"):
                    samples[key] = min(samples[key], value)
                else:
                    samples[key] += value
    lines: list[str] = []
    for comments, samples in families.values():
        lines += comments
        lines += [f"{key} {floatToGoString(value)}" for key, value in samples.items()]
    return ("\n".join(lines) + "\n").encode() if lines else b""
