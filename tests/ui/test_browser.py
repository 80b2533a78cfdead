"""The UI in Chromium, as its users work: filter runs with an ``or``, open a chart, compare;
an approver approves and the alias moves while the requester cannot approve; a viewer reads but
changes nothing; XSS payloads in untrusted text never run; the verify button reports a tampered
ledger. No page logs a console error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from slipway.workspace import open_workspace
from tests.support import make_settings
from tests.ui.browser import Session, chromium, ui_server
from tests.ui.story import XSS_IMG, XSS_SCRIPT, XSS_SVG, Story

pytestmark = [pytest.mark.xdist_group("ui-browser"), pytest.mark.slow]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def as_user(browser: Any, server: str, story: Story) -> Iterator[Any]:
    sessions: list[Session] = []

    def open_session(name: str) -> Session:
        session = Session(browser, server).sign_in(story.tokens[name])
        sessions.append(session)
        return session

    yield open_session
    for session in sessions:
        assert session.problems == [], session.problems
        session.close()


def run_names(session: Session) -> list[str]:
    return session.page.locator("#runs a.run-link").all_inner_texts()  # type: ignore[no-any-return]


def test_filter_with_or_open_a_chart_and_compare(as_user: Any, story: Story, tmp_path: Path) -> None:
    alice = as_user("alice")
    assert alice.cookie("slipway_session")["httpOnly"] and alice.cookie("slipway_session")["sameSite"] == "Strict"
    alice.open("/runs?experiment=churn")
    assert len(run_names(alice)) == 8
    alice.page.fill("input[name=filter]", "(params.model = 'rf' or params.model = 'xgb') and metrics.auc > 0.87")
    alice.page.click("#apply-filter")
    alice.page.wait_for_url("**filter=*")  # htmx swapped the table and pushed the URL, so it can be shared
    alice.page.wait_for_function("document.querySelectorAll('#runs a.run-link').length === 3")
    assert sorted(run_names(alice)) == ["rf-0", "xgb-3", "xgb-5"]
    alice.shot("runs-filtered", tmp_path)

    alice.open("/runs?experiment=churn")
    alice.page.click("text=long-training")
    alice.page.click("#metrics >> text=loss")
    alice.page.wait_for_selector(".chart canvas")
    assert "30000 points, drawn from" in alice.page.inner_text(".chart-note")
    points = alice.page.evaluate("JSON.parse(document.getElementById('chart-data').textContent)[0].runs[0].steps.length")
    assert 0 < points <= 2000
    alice.shot("chart", tmp_path, docs=True)
    alice.page.select_option(".chart-axis", "time")  # redrawn on a time axis
    alice.page.wait_for_selector(".chart canvas")
    assert alice.page.locator(".chart canvas").count() == 1

    alice.open("/runs?experiment=churn&filter=params.model+%3D+%27rf%27")
    boxes = alice.page.locator("#runs input[name=run]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    alice.page.click("#compare-button")
    alice.page.wait_for_url("**/compare?run=*")
    assert alice.page.locator("#compare-params tr.differs").count() == 1  # depth differs, model does not
    alice.page.wait_for_selector(".chart canvas")
    alice.shot("compare", tmp_path)


def test_approver_approves_and_the_alias_moves_while_the_requester_cannot(as_user: Any, story: Story,
                                                                         tmp_path: Path) -> None:
    version_page = f"/models/{story.model}/{story.version}"
    alice = as_user("alice")
    alice.open(version_page)
    assert alice.page.locator("button.approve").count() == 0
    assert "a second person decides" in alice.page.inner_text(".approvals")

    bob = as_user("bob")
    bob.open(version_page)
    assert bob.page.inner_text("#state") == "pending_approval"
    bob.page.fill("form.decide input[name=comment]", "fairness and card reviewed")
    bob.page.click("button.approve")
    bob.page.wait_for_url("**" + version_page)
    assert bob.page.inner_text("#state") == "approved"
    assert "approve by bob" in bob.page.inner_text(".approvals") and bob.page.locator("button.approve").count() == 0
    assert bob.page.locator("#promote").count() == 0  # an approver may not move aliases: no button

    dave = as_user("dave")
    dave.open(version_page)
    dave.page.fill("input[name=alias]", "champion")
    dave.page.click("#promote")
    dave.page.wait_for_url("**" + version_page)
    assert "champion" in dave.page.inner_text("#aliases")
    dave.shot("approved", tmp_path)
    dave.open(f"/models/{story.model}")
    assert "champion" in dave.page.inner_text("#alias-history") and "dave" in dave.page.inner_text("#alias-history")


def test_a_viewer_sees_read_only_pages(as_user: Any, story: Story) -> None:
    vera = as_user("vera")
    for path in (f"/models/{story.model}/{story.version}", "/runs", "/monitoring", "/datasets/xss-columns/1",
                 f"/runs/{story.runs['rf-0']}"):
        assert vera.open(path).status == 200
        assert vera.page.locator("main form[method=post]").count() == 0, path  # every action is a POST form
    assert vera.open("/audit").status == 403
    assert vera.problems == ["console error: Failed to load resource: the server responded with a status of 403 (Forbidden)"]
    vera.problems.clear()
    assert "Audit" not in vera.page.inner_text("header nav")


def test_the_link_mlflows_client_prints_opens_the_run(as_user: Any, story: Story) -> None:
    """MLflow's client prints "View run at <server>/#/experiments/<id>/runs/<run id>"; the fragment
    never reaches the server, so the page's script opens Slipway's page for that run."""
    vera = as_user("vera")
    run_id = story.runs["rf-0"]
    vera.open(f"/#/experiments/0123456789abcdef0123456789abcdef/runs/{run_id}")
    vera.page.wait_for_url(f"**/runs/{run_id}")
    assert "rf-0" in vera.page.inner_text("main")
    # "View experiment at …/#/experiments/<id>", from a page of the UI already open (a hash change).
    experiment = vera.page.get_attribute("a[href^='/runs?experiment=']", "href").split("=", 1)[1]
    vera.open("/")
    vera.page.goto(f"{vera.url}/#/experiments/{experiment}")
    vera.page.wait_for_url(lambda url: url.endswith(f"/runs?experiment={experiment}"))
    assert "rf-0" in vera.page.inner_text("#runs")


def test_xss_payloads_in_untrusted_text_do_not_run(as_user: Any, story: Story) -> None:
    vera = as_user("vera")
    vera.open(f"/runs/{story.runs['xss']}")
    assert XSS_SCRIPT in vera.page.inner_text("#tags") and XSS_IMG in vera.page.inner_text("#tags")
    assert XSS_SVG in vera.page.inner_text("#params")
    vera.open("/runs?experiment=churn&cols=params.model,tags.note")
    vera.open(f"/models/{story.model}/{story.version}")
    card = vera.page.inner_text("#model-card")
    assert XSS_IMG in card and XSS_SCRIPT in card and "[click me](javascript:" in card
    vera.open("/datasets/xss-columns/1")
    assert XSS_SVG in vera.page.inner_text("main")
    assert vera.page.evaluate("window.__xss") is None


def test_the_verify_button_reports_a_tampered_ledger(browser: Any, tmp_path: Path) -> None:
    home = tmp_path / "store"
    ws = open_workspace(make_settings(home))
    ws.identity.create_user("audrey", ["auditor"])
    token = ws.identity.create_token("audrey", "ui").token
    with ws.tracking.start_run("a", experiment="audited"):
        ws.tracking.log_metrics({"auc": 0.8})
    with ui_server(make_settings(home)) as (url, _admin):
        audrey = Session(browser, url).sign_in(token)
        audrey.open("/audit")
        audrey.page.click("#verify")
        assert "Verified." in audrey.page.locator("#verdict-result").inner_text()
        with ws._transport.db.write() as conn:  # someone with database access rewrites history
            conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
        audrey.open("/audit?actor=mallory")
        assert audrey.page.locator("#events tr").count() == 2  # the header and the rewritten event
        audrey.page.click("#verify")
        verdict = audrey.page.locator("#verdict-result")
        verdict.wait_for()
        assert "does not verify" in verdict.inner_text() and "#2" in verdict.inner_text()
        assert audrey.problems == []
        audrey.close()
    ws.close()
