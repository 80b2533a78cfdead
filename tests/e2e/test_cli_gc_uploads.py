"""``slipway gc`` removes what killed uploads and ``data add`` runs left behind, and nothing live."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def test_gc_removes_stale_temporaries_of_killed_writers_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spool, store_tmp = home / "tmp", home / "artifacts" / "tmp"
    spool.mkdir(parents=True)
    store_tmp.mkdir(parents=True)
    stale = [spool / "upload-killed", store_tmp / "upload-killed", store_tmp / "ingest-killed"]
    live = [spool / "upload-live", store_tmp / "ingest-live"]
    two_hours_ago = time.time() - 7200
    for path in stale + live:
        path.write_bytes(b"partial")
    for path in stale:
        os.utime(path, (two_hours_ago, two_hours_ago))
    env = {**os.environ, "SLIPWAY_HOME": str(home)}
    env.pop("SLIPWAY_SERVER_URL", None)
    done = subprocess.run([sys.executable, "-m", "slipway.cli.main", "gc"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [p.name for p in stale if p.exists()] == []
    assert all(p.exists() for p in live)
