"""``POST /api/v1/blobs/missing`` for a global and a project-bound caller: the time of one request
of 5,000 digests and the SQL statements it costs (the project-bound answer checks every digest as
a download would, batched: a dozen statements per 500 digests, whatever is stored).

    PYTHONPATH=. .venv/bin/python benchmarks/blobs_missing.py [--digests 5000] [--postgres]

(from the repository root: it runs the server as the tests do, with tests/support.py).

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine
from tests.support import make_settings, platform_server, postgres_database

from slipway.core.hashing import hash_bytes
from slipway.workspace import open_workspace

STATEMENTS = [0]


@event.listens_for(Engine, "before_cursor_execute")
def _count(*_: Any) -> None:
    STATEMENTS[0] += 1


def _seed(home: Path, store_uri: str | None, total: int) -> tuple[Any, list[str]]:
    """Two projects; 50 dataset versions each; the rest stored unreferenced or not stored at all."""
    settings = make_settings(home, **({"store_uri": store_uri} if store_uri else {}))
    admin = open_workspace(settings)
    digests: list[str] = []
    for team in ("fraud", "credit"):
        admin.identity.create_project(team, team)
        for i in range(50):
            digests.append(admin.data.add(f"{team}-{i}", _file(home, f"{team}-{i}"), project=team).digest)
    admin.identity.create_user("alice", [])
    admin.identity.bind("alice", "developer", "fraud")
    stored = [admin.blobs.put_bytes(f"stray {i}".encode()) for i in range((total - len(digests)) // 2)]
    absent = [hash_bytes(f"absent {i}".encode()) for i in range(total - len(digests) - len(stored))]
    admin.close()
    return settings, digests + stored + absent


def _file(home: Path, name: str) -> Path:
    path = home / "files" / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"a,b\n{name},1\n")
    return path


def _measure(url: str, headers: dict[str, str], digests: list[str], repeat: int = 5) -> dict[str, Any]:
    times, missing = [], 0
    for _ in range(repeat):
        STATEMENTS[0] = 0
        start = time.perf_counter()
        answer = httpx.post(f"{url}/api/v1/blobs/missing", json={"digests": digests}, headers=headers, timeout=120)
        times.append(time.perf_counter() - start)
        answer.raise_for_status()
        missing = len(answer.json()["missing"])
    return {"median_ms": round(statistics.median(times) * 1000, 1), "sql_statements": STATEMENTS[0],
            "reported_missing": missing}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--digests", type=int, default=5000)
    parser.add_argument("--postgres", action="store_true", help="a new database on 127.0.0.1:5432")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, \
            (postgres_database() if args.postgres else contextlib.nullcontext(None)) as store_uri:
        settings, digests = _seed(Path(folder), store_uri, args.digests)
        with platform_server(settings) as (url, admin_token):
            admin = {"authorization": f"Bearer {admin_token}"}
            token = httpx.post(f"{url}/api/v1/identity/create_token", json={"user": "alice"},
                               headers=admin).json()["token"]
            result = {"digests": len(digests), "store": "postgresql" if store_uri else "sqlite",
                      "global": _measure(url, admin, digests),
                      "project_bound": _measure(url, {"authorization": f"Bearer {token}"}, digests)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
