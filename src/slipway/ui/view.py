"""What every page and action of the UI shares: the signed-in principal, backends acting as it,
rendering, and the translation of errors into pages.

Pages call the same backend methods as the API, each built for the signed-in principal
(``cls(ctx.as_principal(principal))``), so a page can do exactly what the API would let its user
do, in the same projects: a user whose roles come from project bindings sees in each list only
what the API would list for it, and a page about another team's object is the API's refusal
(403, naming the permission and the project). Templates ask :meth:`View.can` only to hide buttons
that would fail.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from slipway.core.auth import Principal
from slipway.core.errors import NotFound, SlipwayError, Unauthenticated
from slipway.core.settings import Settings
from slipway.local.backends import available_backends
from slipway.store.projects import Resolver, alert_project, dataset_project, model_project
from slipway.ui.session import check_csrf, csrf_token, principal_of, read_form
from slipway.ui.templating import render_page

log = logging.getLogger("slipway.ui")
# The objects a page's buttons act on, and how to find their project (see View.can).
_PROJECT_OF: dict[str, Resolver] = {"model": model_project, "dataset": dataset_project, "alert": alert_project}


@dataclasses.dataclass
class View:
    """One request to a page: who asks, and the services acting as them."""

    request: Request
    principal: Principal
    settings: Settings = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.settings = self.request.app.state.transport.settings

    def backend(self, name: str) -> Any:
        ctx = self.request.app.state.transport.ctx.as_principal(self.principal)
        return available_backends()[name](ctx)

    # With settings, blobs and service(), a view is a Host (slipway.store.context) for the services
    # that work over backends, e.g. DataService to diff two dataset versions.
    @property
    def blobs(self) -> Any:
        return self.request.app.state.transport.blobs

    def service(self, name: str) -> Any:
        raise NotFound(f"the web UI does not use the {name} service")

    def has(self, name: str) -> bool:
        """Whether the service ``name`` exists in this installation (optional domains)."""
        return name in available_backends()

    def can(self, permission: str, **about: str) -> bool:
        """Whether the user holds ``permission`` globally or, given the object a button acts on
        (``model=``, ``dataset=`` or ``alert=``), in that object's project, as the API will check.

        Templates ask it only to hide buttons that would fail; the action is checked again.
        """
        if self.principal.can(permission) or not about or not self.principal.bindings:
            return self.principal.can(permission)
        with self.request.app.state.transport.ctx.db.read() as conn:
            projects = set().union(*(_PROJECT_OF[kind](conn, value) for kind, value in about.items()))
        return bool(projects) and all(self.principal.can_in(permission, project) for project in projects)

    def url(self, path: str | None = None, **changes: Any) -> str:
        """This page's URL (or ``path``'s) with query parameters changed; any change starts again
        at the first page of results."""
        params = [(k, v) for k, v in self.request.query_params.multi_items() if k not in changes and k != "page"]
        params += [(k, str(v)) for k, v in changes.items() if v not in (None, "")]
        return (path or self.request.url.path) + (f"?{urlencode(params)}" if params else "")

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        context.update(request=self.request, me=self.principal, view=self, csrf=csrf_token(self.request))
        return render_page(template, context, status_code)


def _error_page(view: View, error: SlipwayError) -> HTMLResponse:
    return view.render("error.html", status_code=error.http_status, error=error)


def _signin_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)


def _named(handler: Any, fn: Callable[..., Any]) -> Any:
    # Not functools.wraps: FastAPI would read the wrapped function's signature as the route's.
    handler.__name__, handler.__doc__ = fn.__name__, fn.__doc__
    return handler


def page(fn: Callable[..., Response]) -> Callable[[Request], Response]:
    """A GET page: ``fn(view, **path_params)``; anonymous visitors go to the sign-in page."""

    def handler(request: Request) -> Response:
        try:
            principal = principal_of(request)
        except Unauthenticated:
            return _signin_redirect(request)
        view = View(request, principal)
        try:
            return fn(view, **request.path_params)
        except SlipwayError as err:
            return _error_page(view, err)

    return _named(handler, fn)


def action(fn: Callable[..., Response]) -> Callable[[Request], Awaitable[Response]]:
    """A POST action: ``fn(view, form, **path_params)``, run only with the session's CSRF token.

    The backend call inside checks the permission as the API does, so a forged request (no token,
    or a viewer's session) is refused whatever the page showed.
    """

    async def handler(request: Request) -> Response:
        try:
            principal = await run_in_threadpool(principal_of, request)
        except Unauthenticated as err:
            return render_page("error.html", {"request": request, "me": None, "view": None, "csrf": "",
                                              "error": err}, err.http_status)
        view = View(request, principal)
        try:
            form = await read_form(request)
            check_csrf(request, form)
            return await run_in_threadpool(fn, view, form, **request.path_params)
        except SlipwayError as err:
            return _error_page(view, err)

    return _named(handler, fn)
