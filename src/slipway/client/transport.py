"""Remote mode: backends and blobs proxied over HTTP to a ``slipway server``.

Every backend method becomes ``POST /api/v1/<service>/<method>`` with the arguments as JSON; the
server's error bodies are raised back as the same :class:`SlipwayError` subclasses.
"""

from __future__ import annotations

import inspect
import itertools
import time
import uuid
from typing import Any

import httpx

from slipway.client.blobs import HttpBlobStore
from slipway.core.auth import READ_PERMISSIONS, Principal
from slipway.core.errors import BackendUnavailable, SlipwayError, error_from_dict
from slipway.core.limits import check_arguments
from slipway.core.records import dumps_fast, loads_fast
from slipway.core.settings import Settings
from slipway.local.backends import BACKEND_PATHS, backend_class


class HttpSession:
    """Calls to one server, or spread over several (``server_url`` lists them, comma-separated).

    Each call goes to the next server in turn; a call whose connection drops (refused, reset,
    timed out) is sent again to the next one. Write calls carry an ``Idempotency-Key`` that the
    retry repeats, so a write the first server committed before the connection dropped is not
    written twice: the server that gets the retry answers with the first response.
    """

    def __init__(self, base_url: str, token: str, timeout: float = 120.0, attempts: int = 4) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        urls = [url.strip().rstrip("/") for url in base_url.split(",") if url.strip()]
        self.base_url = urls[0] if urls else ""
        self.clients = [httpx.Client(base_url=url, headers=headers, timeout=timeout) for url in urls or [""]]
        self.client = self.clients[0]
        self.attempts = max(attempts, len(self.clients))
        self._next = itertools.count()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        # A body streamed from a file is sent again only from where it started (a seekable file,
        # rewound before each attempt; blob uploads are content-addressed, so a resent one is a
        # no-op), or when the connection was never made (nothing of it was read). Everything
        # else can always be sent again.
        body = kwargs.get("content")
        streamed = hasattr(body, "read")
        start = _position(body) if streamed else None
        first = next(self._next)
        for attempt in range(self.attempts):
            client = self.clients[(first + attempt) % len(self.clients)]
            if start is not None:
                body.seek(start)  # type: ignore[union-attr]
            try:
                response = client.request(method, path, **kwargs)
                break
            except httpx.TransportError as err:
                resend = not streamed or start is not None or isinstance(err, httpx.ConnectError)
                if not resend or attempt == self.attempts - 1:
                    raise BackendUnavailable(f"cannot reach the Slipway server at {client.base_url}: {err}") from err
                time.sleep(min(0.05 * 2**attempt, 1.0))
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def call(self, service: str, method: str, arguments: dict[str, Any], write: bool = False) -> Any:
        headers = {"Content-Type": "application/json"}
        if write:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        response = self.request("POST", f"/api/v1/{service}/{method}", content=dumps_fast(arguments), headers=headers)
        return loads_fast(response.content)

    def close(self) -> None:
        for client in self.clients:
            client.close()


def _position(body: Any) -> int | None:
    """Where a streamed body starts, if it can be rewound there; else ``None``."""
    try:
        return int(body.tell()) if body.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


def error_from_response(response: httpx.Response) -> SlipwayError:
    try:
        body = response.json().get("error", {})
        if isinstance(body, str):
            body = {"message": body}
    except ValueError:
        body = {"message": response.text[:500] or response.reason_phrase}
    return error_from_dict(body, response.status_code)


class HttpBackend:
    """A proxy with the methods of a backend class, each one an HTTP call."""

    def __init__(self, session: HttpSession, name: str) -> None:
        self._session = session
        self._name = name
        self._cls = backend_class(name)

    def __getattr__(self, method: str) -> Any:
        target = getattr(self._cls, method, None)
        if target is None or not hasattr(target, "__slipway_permission__"):
            raise AttributeError(f"service {self._name!r} has no endpoint {method!r}")
        signature = inspect.signature(target)
        write = target.__slipway_permission__ not in READ_PERMISSIONS

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                bound = signature.bind(None, *args, **kwargs)
            except TypeError as err:
                from slipway.core.errors import InvalidInput

                raise InvalidInput(f"{self._name}.{method}: {err}") from err
            arguments = dict(bound.arguments)
            arguments.pop(next(iter(signature.parameters)))
            # The server checks again; checking here gives the embedded mode's errors and keeps
            # what cannot be sent (a lone surrogate, an integer past 64 bits) from the encoder.
            check_arguments(arguments)
            return self._session.call(self._name, method, arguments, write=write)

        call.__name__ = method
        return call


class RemoteTransport:
    remote = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.session = HttpSession(settings.server_url, settings.token)
        self.blobs = HttpBlobStore(self.session)
        self._backends: dict[str, HttpBackend] = {}
        self._principal: Principal | None = None

    @property
    def principal(self) -> Principal:
        if self._principal is None:
            me = self.backend("identity").whoami()
            bindings = tuple((str(p), str(r)) for p, r in me.get("bindings", []))
            self._principal = Principal(me["name"], frozenset(me["roles"]), me["kind"], bindings)
        return self._principal

    def backend(self, name: str) -> Any:
        if name not in self._backends:
            if name not in BACKEND_PATHS:
                from slipway.core.errors import NotFound

                raise NotFound(f"no service named {name!r}")
            self._backends[name] = HttpBackend(self.session, name)
        return self._backends[name]

    def close(self) -> None:
        self.session.close()
