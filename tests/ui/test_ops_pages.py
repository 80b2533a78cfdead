"""The pages added for operations and evidence: dataset validation reports, a model version's
evaluation and fairness by group, shadow comparisons and A/B outcomes, a monitor with its runs and
alerts, the feature store with freshness. Over HTTP: what each role is shown, forged actions
refused server-side, payloads escaped. In Chromium: a developer acknowledges and resolves an alert
and validates a dataset version, a viewer gets no button, no payload runs, screenshots for the docs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.ui.browser import Session, chromium
from tests.ui.ops_story import DEPLOYMENT, MONITOR, Ops, build_ops
from tests.ui.story import XSS_IMG, XSS_SCRIPT, Story
from tests.ui.test_security import csrf_of, signed_in

pytestmark = [pytest.mark.xdist_group("ui-ops"), pytest.mark.slow]


@pytest.fixture(scope="module")
def ops(story: Story, tmp_path_factory: pytest.TempPathFactory) -> Ops:
    return build_ops(story, tmp_path_factory.mktemp("ui-ops"))


def _alert_state(client: httpx.Client) -> str:
    found = re.search(r'<span class="pill (\w+) alert">', client.get(f"/monitoring/{MONITOR}").text)
    assert found
    return found.group(1)


def _validations(client: httpx.Client) -> int:
    page = client.get("/datasets/xss-columns/1").text
    return len(re.findall(r'<td class="mono">\d{4}-\d\d-\d\d [\d:]+</td><td>[^<]*</td><td>platform</td>', page))


def test_forged_alert_changes_and_validations_are_refused(server: str, story: Story, ops: Ops) -> None:
    vera, alice = signed_in(server, story.tokens["vera"]), signed_in(server, story.tokens["alice"])
    change = f"/alerts/{ops.alert_id}/state"
    refused = vera.post(change, data={"state": "resolved", "csrf_token": csrf_of(vera)})  # a viewer's own token
    assert refused.status_code == 403 and "monitoring.write" in refused.text
    no_token = alice.post(change, data={"state": "resolved"})  # a developer may, but not without the token
    assert no_token.status_code == 403 and "CSRF" in no_token.text
    assert _alert_state(alice) == "open"

    validate = "/datasets/xss-columns/1/validate"
    before = _validations(alice)
    assert before == 1
    refused = vera.post(validate, data={"csrf_token": csrf_of(vera)})
    assert refused.status_code == 403 and "data.write" in refused.text
    assert alice.post(validate, data={}).status_code == 403
    assert _validations(alice) == before

    done = alice.post(change, data={"state": "acknowledged", "note": "looking", "back": "//evil.example/",
                                    "csrf_token": csrf_of(alice)})
    assert done.status_code == 303 and done.headers["location"] == "/monitoring"  # no open redirect
    assert _alert_state(alice) == "acknowledged"


def test_each_role_sees_only_the_buttons_that_work(server: str, story: Story, ops: Ops) -> None:
    vera, alice = signed_in(server, story.tokens["vera"]), signed_in(server, story.tokens["alice"])
    for path in (f"/monitoring/{MONITOR}", "/monitoring", "/datasets/xss-columns/1", "/features",
                 "/features/feature_view/txn", f"/deployments/{DEPLOYMENT}", f"/models/{story.model}/{story.version}"):
        page = vera.get(path)
        assert page.status_code == 200, path
        assert 'method="post"' not in page.text.split("<main>")[1], path
    assert 'id="validate"' in alice.get("/datasets/xss-columns/1").text
    assert f'action="/alerts/{ops.alert_id}/state"' in alice.get(f"/monitoring/{MONITOR}").text


def test_the_pages_hold_their_reports_and_escape_untrusted_text(server: str, story: Story, ops: Ops) -> None:
    vera = signed_in(server, story.tokens["vera"])
    monitor = vera.get(f"/monitoring/{MONITOR}").text
    assert "1 of 2 columns drifted" in monitor and 'id="monitor-runs"' in monitor and "speed" in monitor
    assert XSS_IMG not in monitor and "&lt;img src=x onerror=&#34;window.__xss=1&#34;&gt;" in monitor

    dataset = vera.get("/datasets/xss-columns/1").text
    assert 'id="validations"' in dataset and ">passed<" in dataset and "schema_digest" in dataset

    version = vera.get(f"/models/{story.model}/{story.version}").text
    assert 'class="fairness-groups"' in version and ">female<" in version and ">male<" in version
    assert 'id="evaluation"' in version and "accuracy" in version
    requirements = version.split('id="check-outcomes"')[1].split("</table>")[0]
    assert requirements.count("<tr>") >= 2 and ("passed" in requirements or "FAILED" in requirements)

    deployment = vera.get(f"/deployments/{DEPLOYMENT}").text
    shadows = deployment.split('id="shadows"')[1].split("</table>")[0]
    assert ">40<" in shadows and "%" in shadows  # 40 rows compared, an agreement rate
    outcomes = deployment.split('id="outcomes"')[1].split("</table>")[0]
    assert ">stable<" in outcomes and f">{ops.labelled}<" in outcomes and ">shadow<" in outcomes
    assert XSS_IMG not in deployment

    features = vera.get("/features").text
    assert 'class="view-link">txn<' in features and "freshness" in features and ">fraud<" in features
    assert XSS_SCRIPT not in features and "&lt;script&gt;" in features
    view = vera.get("/features/feature_view/txn").text
    assert "amount_sum" in view and "float64" in view and 'id="freshness"' in view
    assert vera.get("/features/nonsense/txn").status_code == 404


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def test_in_the_browser_a_developer_handles_an_alert_and_validates(browser: Any, server: str, story: Story,
                                                                     ops: Ops, tmp_path: Path) -> None:
    vera = Session(browser, server).sign_in(story.tokens["vera"])
    for path in (f"/monitoring/{MONITOR}", "/datasets/xss-columns/1", "/features", "/features/feature_view/txn",
                 f"/deployments/{DEPLOYMENT}"):
        assert vera.open(path).status == 200
        assert vera.page.locator("main form[method=post]").count() == 0, path
        assert vera.page.evaluate("window.__xss") is None, path
    vera.open("/features")
    assert XSS_SCRIPT in vera.page.inner_text("#feature-views")  # shown as text, never run
    vera.shot("features", tmp_path, docs=True)
    vera.open(f"/deployments/{DEPLOYMENT}")
    vera.shot("deployment-shadow-ab", tmp_path, docs=True)
    vera.open(f"/models/{story.model}/{story.version}")
    vera.page.locator("#evaluation").scroll_into_view_if_needed()
    vera.shot("model-evaluation", tmp_path, docs=True)
    assert vera.problems == [], vera.problems
    vera.close()

    alice = Session(browser, server).sign_in(story.tokens["alice"])
    alice.open(f"/monitoring/{MONITOR}")
    state = alice.page.locator("#alerts .pill.alert").first.inner_text()
    if state == "open":
        alice.page.fill("#alerts input[name=note]", "on it")
        alice.page.click("#alerts button[value=acknowledged]")
        alice.page.wait_for_url(f"**/monitoring/{MONITOR}")
        assert alice.page.locator("#alerts .pill.alert").first.inner_text() == "acknowledged"
    alice.page.fill("#alerts input[name=note]", "sensor recalibrated")
    alice.page.click("#alerts button[value=resolved]")
    alice.page.wait_for_url(f"**/monitoring/{MONITOR}")
    assert alice.page.locator("#alerts .pill.alert").first.inner_text() == "resolved"
    assert "sensor recalibrated" in alice.page.inner_text("#alerts")
    alice.page.locator(".check-report summary").first.click()
    alice.shot("monitor", tmp_path, docs=True)

    alice.open("/datasets/xss-columns/1")
    before = alice.page.locator("#validations tr").count()
    alice.page.click("#validate")
    alice.page.wait_for_url("**/datasets/xss-columns/1#validation")
    assert alice.page.locator("#validations tr").count() == before + 1
    assert "alice" in alice.page.inner_text("#validations")
    alice.shot("dataset-validation", tmp_path, docs=True)
    assert alice.problems == [], alice.problems
    alice.close()
