"""After ``slipway quickstart``, ``slipway server`` shows the whole story in Chromium: datasets,
runs and a chart, the champion's card and approvals, its lineage back to both dataset versions,
the deployment's canary history and the audit ledger, with no error in the browser console.
The screenshots in docs/ui/ come from this test (``SLIPWAY_UI_SCREENSHOTS=docs/ui``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.core.settings import load_settings
from tests.e2e.test_quickstart import CONFIG, _slipway, _workspace
from tests.ui.browser import Session, chromium, ui_server

DOCS = {"runs", "run", "compare", "dataset", "model-version", "lineage", "deployment", "pipeline-run"}
# The quickstart alone takes minutes on a busy machine.
pytestmark = [pytest.mark.xdist_group("ui-quickstart"), pytest.mark.slow, pytest.mark.timeout(1800)]


def test_the_quickstart_story_in_the_browser(tmp_path: Path) -> None:
    home = tmp_path / "qs-home"
    done = _slipway(tmp_path, "quickstart", "--home", str(home))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ws = _workspace(home)
    champion = ws.registry.resolve("ai4i-failure@champion")
    reached = ws.lineage.upstream(f"ai4i-failure/{champion.version}").ids("dataset_version")
    runs = ws.tracking.search_runs(order_by=["attributes.start_time"]).runs
    pipeline_run = ws._transport.backend("pipelines").list_runs(limit=1)[0]
    ws.close()
    settings = load_settings(home=home, user="", config_path=str(CONFIG), server_url="", store_uri="",
                             artifacts_uri="", token="")
    shots = tmp_path / "shots"
    shots.mkdir()
    with ui_server(settings) as (url, admin_token), chromium() as browser:
        admin = Session(browser, url).sign_in(admin_token)
        pages = {
            "home": "/",
            "datasets": "/datasets",
            "dataset": "/datasets/ai4i/2",
            "runs": "/runs",
            "run": f"/runs/{champion.run_id}",
            "chart": f"/runs/{champion.run_id}/chart?key=f1",
            "compare": f"/compare?run={runs[0].id}&run={runs[-1].id}",
            "models": "/models/ai4i-failure",
            "model-version": f"/models/ai4i-failure/{champion.version}",
            "lineage": f"/lineage/model_version/ai4i-failure/{champion.version}",
            "deployment": "/deployments/maintenance",
            "pipeline-run": f"/pipelines/runs/{pipeline_run.id}",
            "audit": "/audit",
            "production": "/audit/production?at=2100-01-01T00:00",
            "monitoring": "/monitoring",
        }
        for name, path in pages.items():
            assert admin.open(path).status == 200, path
            admin.shot(name, shots, docs=name in DOCS, full_page=name != "audit")

        admin.open(f"/lineage/model_version/ai4i-failure/{champion.version}")
        nodes = admin.page.inner_text("#lineage-nodes")
        # The champion at the end depends on the canaries' verdicts on a loaded machine (the
        # monitoring loop may roll back to an earlier one): the page must show every dataset
        # version its recorded lineage reaches, and a champion retrained on a later drop reaches
        # the first drop too (its reference input).
        assert reached and all(ref in nodes for ref in reached), (reached, nodes)
        if champion.version > 1:
            assert "ai4i@1" in nodes and len(reached) >= 2
        assert admin.page.locator(".graph svg a.node-link").count() >= 4
        admin.open(f"/models/ai4i-failure/{champion.version}")
        assert "champion" in admin.page.inner_text("#aliases") and "approve by bob" in admin.page.inner_text(".approvals")
        assert "Intended use" in admin.page.inner_text("#model-card")
        admin.open("/deployments/maintenance")
        history = admin.page.inner_text("#history")
        assert "canary" in history and ("promote" in history or "rollback" in history)
        admin.open("/audit")
        admin.page.click("#verify")
        assert "Verified." in admin.page.locator("#verdict-result").inner_text()
        admin.shot("audit-verified", shots, docs=True, full_page=False)
        assert admin.problems == [], admin.problems
        admin.close()
