"""A client for the documented subset of ServiceNow's Table and Attachment APIs.

What ticketed sign-off needs of a ``change_request``: create it, read it, update it, attach a
file to it, and read who approved it (``sysapproval_approver`` rows, dot-walked to the user's
``user_name``). Requests and answers are the Table API's JSON: ``{"result": {...}}`` (a list for
queries), errors ``{"error": {"message", "detail"}, "status": "failure"}``. Auth is basic or an
OAuth bearer token. Errors become Slipway's: 401/403 :class:`PermissionDenied`, 404
:class:`NotFound`, other 4xx :class:`InvalidInput`, 5xx and connection failures
:class:`BackendUnavailable`, each naming ServiceNow's message.

States of a normal change (``state``): -5 New, -4 Assess, -3 Authorize, -2 Scheduled,
-1 Implement, 0 Review, 3 Closed, 4 Canceled; ``approval``: ``not requested``, ``requested``,
``approved``, ``rejected``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from slipway.core.errors import BackendUnavailable, InvalidInput, NotFound, PermissionDenied, SlipwayError
from slipway.webhooks.settings import ServiceNowSettings

CHANGE_TABLE = "change_request"
APPROVER_TABLE = "sysapproval_approver"
CHANGE_FIELDS = "sys_id,number,state,approval,short_description,correlation_id,sys_updated_by,close_notes,comments"


@dataclass(frozen=True)
class TicketApprover:
    """One approver row of a change: the user's ``user_name`` and the row's ``state``."""

    user_name: str
    state: str
    comments: str


def _error(response: httpx.Response, what: str) -> SlipwayError:
    try:
        body = orjson.loads(response.content)
        error = body.get("error") or {}
        message = f"{error.get('message', '')}: {error.get('detail', '')}".strip(": ")
    except (orjson.JSONDecodeError, AttributeError):
        message = response.text[:200]
    text = f"ServiceNow refused to {what} (HTTP {response.status_code}): {message or 'no message'}"
    if response.status_code in (401, 403):
        return PermissionDenied(text + "; check [governance.servicenow] username/password or token")
    if response.status_code == 404:
        return NotFound(text)
    if 400 <= response.status_code < 500:
        return InvalidInput(text)
    return BackendUnavailable(text)


class ServiceNowClient:
    """``ServiceNowClient(settings)``; use as a context manager (it holds one HTTP connection pool)."""

    def __init__(self, conf: ServiceNowSettings) -> None:
        if not conf.instance_url:
            raise InvalidInput("ticketed sign-off needs [governance.servicenow] instance_url")
        headers = {"Accept": "application/json", "User-Agent": "slipway-tickets/1"}
        auth: httpx.Auth | None = None
        if conf.token:
            headers["Authorization"] = f"Bearer {conf.token}"
        elif conf.username:
            auth = httpx.BasicAuth(conf.username, conf.password)
        self.base_url = conf.instance_url.rstrip("/")
        self._client = httpx.Client(base_url=self.base_url, headers=headers, auth=auth, timeout=conf.timeout_s,
                                    follow_redirects=False)

    def __enter__(self) -> ServiceNowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            raise BackendUnavailable(f"ServiceNow at {self.base_url} is unreachable ({type(err).__name__}: {err}); "
                                     f"could not {what}") from err
        if not response.is_success:
            raise _error(response, what)
        try:
            return orjson.loads(response.content)["result"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as err:
            raise BackendUnavailable(f"ServiceNow answered {what} without a JSON 'result'") from err

    def ticket_url(self, sys_id: str) -> str:
        return f"{self.base_url}/nav_to.do?uri={CHANGE_TABLE}.do?sys_id={sys_id}"

    def create_change(self, fields: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/now/table/change_request``: the new record (with ``sys_id`` and ``number``)."""
        result = self._call("POST", f"/api/now/table/{CHANGE_TABLE}", "create a change request", json=fields,
                            params={"sysparm_fields": CHANGE_FIELDS})
        if not isinstance(result, dict) or not result.get("sys_id"):
            raise BackendUnavailable("ServiceNow created a change request without a sys_id")
        return result

    def get_change(self, sys_id: str) -> dict[str, Any]:
        """``GET /api/now/table/change_request/{sys_id}``."""
        return dict(self._call("GET", f"/api/now/table/{CHANGE_TABLE}/{sys_id}", f"read change {sys_id}",
                               params={"sysparm_fields": CHANGE_FIELDS}))

    def update_change(self, sys_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """``PATCH /api/now/table/change_request/{sys_id}``: the updated record."""
        return dict(self._call("PATCH", f"/api/now/table/{CHANGE_TABLE}/{sys_id}", f"update change {sys_id}",
                               json=fields, params={"sysparm_fields": CHANGE_FIELDS}))

    def attach(self, sys_id: str, file_name: str, content: bytes, content_type: str) -> dict[str, Any]:
        """``POST /api/now/attachment/file?table_name=change_request&table_sys_id=…&file_name=…``."""
        return dict(self._call("POST", "/api/now/attachment/file", f"attach {file_name} to change {sys_id}",
                               params={"table_name": CHANGE_TABLE, "table_sys_id": sys_id, "file_name": file_name},
                               content=content, headers={"Content-Type": content_type}))

    def approvers(self, sys_id: str) -> list[TicketApprover]:
        """Who was asked to approve the change and what each said (``sysapproval_approver``)."""
        rows = self._call("GET", f"/api/now/table/{APPROVER_TABLE}", f"read the approvers of change {sys_id}",
                          params={"sysparm_query": f"sysapproval={sys_id}",
                                  "sysparm_fields": "approver.user_name,state,comments"})
        return [TicketApprover(str(r.get("approver.user_name") or ""), str(r.get("state") or ""),
                               str(r.get("comments") or "")) for r in rows or []]
