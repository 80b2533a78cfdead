"""The platform API with the web UI mounted: what ``slipway server`` runs.

The UI sits above the server (ARCHITECTURE.md, layer 5), so it wraps the API's app rather than
the API importing it: every ``/api/v1`` route stays as it is, the pages take ``/`` and the paths
below, and the vendored scripts and styles are served from ``/ui/static``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from slipway.core.errors import SlipwayError, TooManyAttempts
from slipway.core.settings import Settings
from slipway.identity.throttle import SigninThrottle
from slipway.server.app import create_app as create_api
from slipway.ui import pages_audit, pages_data, pages_features, pages_models, pages_ops, pages_runs
from slipway.ui.session import (
    SIGNIN_COOKIE,
    check_signin_nonce,
    read_form,
    set_cookie,
    sign_in,
    sign_in_with_password,
    sign_out,
    signin_nonce,
)
from slipway.ui.templating import render_page
from slipway.ui.view import View, action

STATIC = Path(__file__).parent / "static"
PAGE_MODULES = (pages_runs, pages_models, pages_audit, pages_data, pages_ops, pages_features)


def create_app(settings: Settings) -> FastAPI:
    """The platform API over ``settings``' stores, with the web UI at ``/``."""
    app = create_api(settings)
    mount_ui(app)
    return app


def mount_ui(app: FastAPI) -> None:
    """Add the UI's pages, actions and static files to the platform API's ``app``."""
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    app.state.signin_throttle = SigninThrottle()  # a test replaces its clock
    app.add_api_route("/signin", signin_page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/signin", signin_submit, methods=["POST"], include_in_schema=False)
    app.add_api_route("/signout", action(signout), methods=["POST"], include_in_schema=False)
    for module in PAGE_MODULES:
        for path, method, handler in module.ROUTES:
            app.add_api_route(path, handler, methods=[method], include_in_schema=False)


def _signin(request: Request, message: str = "", status: int = 200, next_page: str = "/") -> Response:
    nonce = signin_nonce(request)
    context = {"request": request, "me": None, "view": None, "csrf": "", "nonce": nonce, "message": message,
               "next": _local(next_page)}
    response = render_page("signin.html", context, status)
    set_cookie(request, response, SIGNIN_COOKIE, nonce, 3600)
    return response


def _local(target: str) -> str:
    """Only a path on this server may follow a sign-in (no open redirect)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def signin_page(request: Request) -> Response:
    return _signin(request, next_page=request.query_params.get("next", "/"))


async def signin_submit(request: Request) -> Response:
    form = await read_form(request)
    next_page = _local(form.get("next", "/"))
    try:
        check_signin_nonce(request, form)
        response = RedirectResponse(next_page, status_code=303)
        if "user" in form:
            await run_in_threadpool(sign_in_with_password, request, response, form["user"], form.get("password", ""))
        else:
            await run_in_threadpool(sign_in, request, response, form.get("token", ""))
    except SlipwayError as err:
        page = _signin(request, str(err), err.http_status, next_page)
        if isinstance(err, TooManyAttempts):
            page.headers["Retry-After"] = str(err.retry_after_s)
        return page
    return response


def signout(view: View, _form: dict[str, str]) -> Response:
    response = RedirectResponse("/signin", status_code=303)
    sign_out(view.request, response)
    return response
