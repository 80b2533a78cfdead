"""The deployment API through a real platform server: same calls, results and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.core.errors import InvalidInput, NotFound
from slipway.workspace import open_workspace, set_default
from tests.serving.helpers import approve, register
from tests.serving.model_classes import TorqueThreshold
from tests.support import make_settings, platform_server


def test_deploy_api_works_remotely(home: Path, ai4i_rows) -> None:
    local = open_workspace(make_settings(home / "server"))
    set_default(local)
    register(local, TorqueThreshold(50.0), "torque", ai4i_rows.head(10))
    approve(home / "server", local, "torque/1")
    try:
        with platform_server(make_settings(home / "server")) as (url, token):
            ws = open_workspace(make_settings(home / "client", server_url=url, token=token))
            applied = ws.serving.apply("name: maint\nvariants:\n  - {model: torque/1}\n")
            assert applied.revision == 1 and applied.variants[0].model == "torque"
            assert ws.serving.status("maint").variants["stable"]["requests"] == 0
            assert ws.serving.canary_tick("maint")["action"] == "none"
            assert ws.serving.add_feedback("maint", [{"request_id": "r1", "label": 1}]) == 1
            assert [h.action for h in ws.serving.history("maint")] == ["apply"]
            with pytest.raises(InvalidInput, match="non-empty 'variants'"):
                ws.serving.apply({"name": "maint", "variants": []})
            with pytest.raises(NotFound):
                ws.serving.status("nope")
            ws.close()
        assert local.serving.get("maint").revision == 1
    finally:
        local.close()
        set_default(None)
