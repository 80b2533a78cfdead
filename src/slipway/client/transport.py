"""Remote mode: backends and blobs proxied over HTTP to a ``slipway server``.

Every backend method becomes ``POST /api/v1/<service>/<method>`` with the arguments as JSON; the
server's error bodies are raised back as the same :class:`SlipwayError` subclasses.
"""

from __future__ import annotations

import inspect
from typing import Any

import httpx

from slipway.client.blobs import HttpBlobStore
from slipway.core.auth import Principal
from slipway.core.errors import BackendUnavailable, SlipwayError, error_from_dict
from slipway.core.limits import check_arguments
from slipway.core.records import dumps_fast, loads_fast
from slipway.core.settings import Settings
from slipway.local.backends import BACKEND_PATHS, backend_class


class HttpSession:
    def __init__(self, base_url: str, token: str, timeout: float = 120.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self.client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            raise BackendUnavailable(f"cannot reach the Slipway server at {self.base_url}: {err}") from err
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def call(self, service: str, method: str, arguments: dict[str, Any]) -> Any:
        response = self.request(
            "POST", f"/api/v1/{service}/{method}", content=dumps_fast(arguments),
            headers={"Content-Type": "application/json"},
        )
        return loads_fast(response.content)


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
            return self._session.call(self._name, method, arguments)

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
            self._principal = Principal(me["name"], frozenset(me["roles"]), me["kind"])
        return self._principal

    def backend(self, name: str) -> Any:
        if name not in self._backends:
            if name not in BACKEND_PATHS:
                from slipway.core.errors import NotFound

                raise NotFound(f"no service named {name!r}")
            self._backends[name] = HttpBackend(self.session, name)
        return self._backends[name]

    def close(self) -> None:
        self.session.client.close()
