"""A loopback ServiceNow: the documented subset of the Table and Attachment APIs, served over
real HTTP on 127.0.0.1 by a thread (``ThreadingHTTPServer``), standing in for the bank's
ServiceNow instance. The governance tests speak to this same server
(``slipway.examples.bank.ticketing``), so what the example shows is what the tests check:

- auth: basic (``users``: name -> password) or OAuth bearer (``tokens``: token -> name); anything
  else is 401 ``{"error": {"message": "User Not Authenticated", ...}, "status": "failure"}``;
- ``POST/GET/PATCH /api/now/table/change_request[/{sys_id}]``: ``{"result": {...}}``, numbers
  ``CHG0030001``…, ``state`` -5 New → -4 Assess → -3 Authorize → -2 Scheduled → -1 Implement →
  0 Review → 3 Closed, and 4 Canceled from any open state; other moves are 403 (a data policy
  exception, as ServiceNow answers). Moving to Assess asks the ``cab`` for approval
  (``approval`` = requested, one ``sysapproval_approver`` row each);
- ``GET /api/now/table/sysapproval_approver?sysparm_query=sysapproval=ID`` and ``PATCH
  /api/now/table/sysapproval_approver/{sys_id}`` (only by that approver): when every approver
  approved, the change is ``approved`` and moves to Scheduled; one rejection rejects it;
- ``POST /api/now/attachment/file?table_name=&table_sys_id=&file_name=`` stores the bytes;
- ``sysparm_fields`` (with ``approver.user_name`` dot-walked) trims answers.

Its records live in memory: each run of the example starts an empty instance (the change numbers
start again at CHG0030001; Slipway keeps the ones it recorded).
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

ORDER = ["-5", "-4", "-3", "-2", "-1", "0", "3"]
OPEN = {"-5", "-4", "-3", "-2", "-1", "0"}


class ServiceNowServer:
    def __init__(self, users: dict[str, str], tokens: dict[str, str] | None = None,
                 cab: tuple[str, ...] = ("carol",)) -> None:
        self.users, self.tokens, self.cab = users, tokens or {}, cab
        self.changes: dict[str, dict[str, Any]] = {}
        self.approvals: dict[str, dict[str, Any]] = {}
        self.attachments: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, str]] = []  # (method, path, user)
        self.lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def __enter__(self) -> ServiceNowServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    # what a person does in the ServiceNow UI, done over the API as that person ----------------
    def decide(self, change_number: str, user: str, state: str, comments: str = "") -> httpx.Response:
        """``user`` approves or rejects their approval row of the change (over HTTP, as ``user``)."""
        change = next(c for c in self.changes.values() if c["number"] == change_number)
        row = next(a for a in self.approvals.values()
                   if a["sysapproval"] == change["sys_id"] and a["approver.user_name"] == user)
        return httpx.patch(f"{self.url}/api/now/table/sysapproval_approver/{row['sys_id']}",
                           json={"state": state, "comments": comments}, auth=(user, self.users[user]))

    def change(self, number: str) -> dict[str, Any]:
        return next(c for c in self.changes.values() if c["number"] == number)

    # the server ---------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _fail(self, status: int, message: str, detail: str) -> None:
                self._send(status, {"error": {"message": message, "detail": detail}, "status": "failure"})

            def _user(self) -> str | None:
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    name, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    return name if server.users.get(name) == password else None
                if header.startswith("Bearer "):
                    return server.tokens.get(header[7:])
                return None

            def _handle(self, method: str) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                user = self._user()
                server.requests.append((method, parts.path, user or ""))
                if user is None:
                    self._fail(401, "User Not Authenticated", "Required to provide Auth information")
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server.lock:
                    route(self, method, parts.path.rstrip("/").split("/"), query, body, user)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

        def fields(record: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
            wanted = query.get("sysparm_fields")
            return {k: record.get(k, "") for k in wanted.split(",")} if wanted else dict(record)

        def parse(handler: Any, body: bytes) -> dict[str, Any] | None:
            try:
                value = json.loads(body)
                if not isinstance(value, dict):
                    raise ValueError("not an object")
                return value
            except ValueError as err:
                handler._fail(400, "Exception while reading request", f"The payload is not valid JSON: {err}")
                return None

        def route(h: Any, method: str, path: list[str], query: dict[str, str], body: bytes, user: str) -> None:
            if path[:4] == ["", "api", "now", "attachment"] and path[4:] == ["file"] and method == "POST":
                change = server.changes.get(query.get("table_sys_id", ""))
                if query.get("table_name") != "change_request" or change is None or not query.get("file_name"):
                    h._fail(400, "Invalid table or record", f"table_name={query.get('table_name')!r} "
                            f"table_sys_id={query.get('table_sys_id')!r}")
                    return
                sys_id = uuid.uuid4().hex
                server.attachments[sys_id] = {"sys_id": sys_id, "file_name": query["file_name"], "table_name": "change_request",
                                              "table_sys_id": change["sys_id"], "size_bytes": str(len(body)),
                                              "content_type": h.headers.get("Content-Type", ""), "content": body}
                h._send(201, {"result": {k: v for k, v in server.attachments[sys_id].items() if k != "content"}})
                return
            if path[:4] != ["", "api", "now", "table"] or len(path) not in (5, 6):
                h._fail(400, "Invalid table", "/".join(path))
                return
            table, sys_id = path[4], (path[5] if len(path) == 6 else "")
            if table == "change_request":
                change_request(h, method, sys_id, query, body, user)
            elif table == "sysapproval_approver":
                approver(h, method, sys_id, query, body, user)
            else:
                h._fail(400, "Invalid table", f"Invalid table {table}")

        def change_request(h: Any, method: str, sys_id: str | None, query: dict[str, str], body: bytes,
                           user: str) -> None:
            if method == "POST" and not sys_id:
                values = parse(h, body)
                if values is None:
                    return
                if not values.get("short_description"):
                    h._fail(400, "Mandatory field missing", "short_description is mandatory")
                    return
                new = uuid.uuid4().hex
                created: dict[str, Any] = {
                    **{k: str(v) for k, v in values.items()}, "sys_id": new,
                    "number": f"CHG{30001 + len(server.changes):07d}", "state": "-5", "approval": "not requested",
                    "sys_created_by": user, "sys_updated_by": user, "work_notes_history": []}
                server.changes[new] = created
                h._send(201, {"result": fields(created, query)})
                return
            record = server.changes.get(sys_id or "")
            if record is None:
                h._fail(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
                return
            if method == "GET":
                h._send(200, {"result": fields(record, query)})
                return
            if method != "PATCH":
                h._fail(405, "Method not supported", method)
                return
            values = parse(h, body)
            if values is None:
                return
            state = str(values.pop("state", record["state"]))
            if state != record["state"]:
                allowed = (state == "4" and record["state"] in OPEN) or (
                    record["state"] in ORDER and ORDER.index(state) == ORDER.index(record["state"]) + 1
                    if state in ORDER else False)
                if not allowed:
                    h._fail(403, "Operation Failed", f"Data Policy Exception: cannot move a change from state "
                            f"{record['state']} to {state}")
                    return
                record["state"] = state
                assert state in ORDER or state == "4", f"the loopback server let a change into state {state}"
                if state == "-4":
                    record["approval"] = "requested"
                    for person in server.cab:
                        row_id = uuid.uuid4().hex
                        server.approvals[row_id] = {"sys_id": row_id, "sysapproval": record["sys_id"],
                                                    "approver.user_name": person, "state": "requested", "comments": ""}
            if "work_notes" in values:
                record["work_notes_history"].append(str(values.pop("work_notes")))
            record.update({k: str(v) for k, v in values.items()})
            record["sys_updated_by"] = user
            h._send(200, {"result": fields(record, query)})

        def approver(h: Any, method: str, sys_id: str | None, query: dict[str, str], body: bytes, user: str) -> None:
            if method == "GET" and not sys_id:
                wanted = query.get("sysparm_query", "")
                target = wanted.partition("sysapproval=")[2].split("^")[0]
                rows = [fields(a, query) for a in server.approvals.values() if a["sysapproval"] == target]
                h._send(200, {"result": rows})
                return
            row = server.approvals.get(sys_id or "")
            if row is None or method != "PATCH":
                h._fail(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
                return
            if row["approver.user_name"] != user:
                h._fail(403, "Operation Failed", f"{user} is not the approver of this record")
                return
            values = parse(h, body)
            if values is None:
                return
            if values.get("state") not in ("approved", "rejected"):
                h._fail(400, "Invalid state", f"state must be approved or rejected, not {values.get('state')!r}")
                return
            row.update(state=values["state"], comments=str(values.get("comments", "")))
            change = server.changes[row["sysapproval"]]
            states = [a["state"] for a in server.approvals.values() if a["sysapproval"] == change["sys_id"]]
            if "rejected" in states:
                change["approval"] = "rejected"
            elif all(s == "approved" for s in states):
                change.update(approval="approved", state="-2")
            h._send(200, {"result": fields(row, query)})

        return Handler
