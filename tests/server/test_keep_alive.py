"""``slipway server`` keeps an idle keep-alive connection open well past uvicorn's 5 s default.

MLflow's client decodes a 25,000-point history page for seconds on a busy machine, then sends the
next page's request on the same pooled connection; a server that closed it in between makes that
request fail (``RemoteDisconnected``)."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support import free_port


def test_an_idle_connection_still_answers_after_seven_seconds(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env.update(SLIPWAY_HOME=str(tmp_path), SLIPWAY_BOOTSTRAP_TOKEN="slw_keepalive-test-token")
    with open(tmp_path / "server.log", "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "slipway.cli.main", "server", "--port", str(port)],
                                  env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("GET", "/healthz")
                first = conn.getresponse()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.2)
        assert first.status == 200 and first.read() and first.getheader("connection", "").lower() != "close"
        sock = conn.sock
        time.sleep(7)  # longer than uvicorn's default keep-alive of 5 s
        conn.request("GET", "/healthz")
        again = conn.getresponse()
        assert again.status == 200 and conn.sock is sock  # answered on the same connection
        conn.close()
    finally:
        server.terminate()
        server.wait(60)
