"""The web UI under test: a real server (platform API + UI) on a loopback port, and Debian's
Chromium driven by Playwright, with every console error and uncaught page error recorded."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from slipway.core.settings import Settings
from tests.support import ServerThread

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[2]
# Screenshots for the docs: `SLIPWAY_UI_SCREENSHOTS=docs/ui pytest tests/ui` writes them there.
SCREENSHOTS = os.environ.get("SLIPWAY_UI_SCREENSHOTS", "")


@contextlib.contextmanager
def ui_server(settings: Settings, admin_token: str = "slw_ui-test-admin-token") -> Iterator[tuple[str, str]]:
    """``slipway server`` (the API and the UI) over ``settings``' stores; yields (url, admin token)."""
    from slipway.server.bootstrap import prepare
    from slipway.ui.app import create_app

    settings = dataclasses.replace(settings, bootstrap_token=admin_token)
    prepare(settings)
    with ServerThread(create_app(settings)) as server:
        yield server.url, admin_token


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (the system's: `apt-get install chromium`, which `make services` does)."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "the UI tests drive the system Chromium: apt-get install -y chromium (scripts/services.sh)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield browser
        finally:
            browser.close()


class Session:
    """One signed-in user's browser tab; ``problems`` collects console errors and page errors."""

    def __init__(self, browser: Any, url: str) -> None:
        self.url = url
        self.context = browser.new_context(viewport={"width": 1280, "height": 860})
        self.context.set_default_timeout(30_000)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))

    def sign_in(self, token: str) -> Session:
        self.page.goto(self.url + "/signin")
        self.page.fill("input[name=token]", token)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(self.url + "/")
        return self

    def open(self, path: str) -> Any:
        response = self.page.goto(self.url + path)
        self.page.wait_for_load_state("networkidle")
        return response

    def cookie(self, name: str) -> dict[str, Any]:
        return next(c for c in self.context.cookies() if c["name"] == name)

    def shot(self, name: str, folder: Path, docs: bool = False, full_page: bool = True) -> Path:
        """A screenshot into ``folder`` (and, for ``docs``, into $SLIPWAY_UI_SCREENSHOTS)."""
        path = folder / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        assert path.stat().st_size > 5_000  # something was drawn
        if docs and SCREENSHOTS:
            target = ROOT / SCREENSHOTS
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target / path.name)
        return path

    def close(self) -> None:
        self.context.close()
