"""A real HTTP receiver on loopback that records what it is sent (webhooks, ServiceNow's table API)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


class Receiver:
    """Records each POST as (path, headers, body); answers with ``status`` (and a ServiceNow-shaped
    ``{"result": {"sys_id", "number"}}`` body on the change-request path)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                assert len(body) == int(self.headers.get("Content-Length", 0)), "a webhook body arrived cut short"
                owner.received.append((self.path, dict(self.headers), body))
                reply: dict[str, Any] = {}
                if self.path.endswith("/api/now/table/change_request"):
                    reply = {"result": {"sys_id": f"chg{len(owner.received):08d}", "number": f"CHG{len(owner.received):07d}"}}
                data = orjson.dumps(reply)
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
