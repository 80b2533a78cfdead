"""``serve --auth``: tokens with the 'predict' permission reach the models; nothing else does."""

from __future__ import annotations

import dataclasses
import time

import httpx
import numpy as np
import pytest
import tritonclient.http as triton

from slipway.core.errors import InvalidInput
from slipway.serving.auth import InferenceAuth
from tests.serving.asgi import FAST, make_app, on_socket
from tests.serving.helpers import FEATURES

AUTH = dataclasses.replace(FAST, auth=True)


def _body(rows):  # type: ignore[no-untyped-def]
    return {"dataframe_split": {"columns": FEATURES, "data": rows.values.tolist()}}


def test_only_tokens_that_may_predict_get_predictions(champion_ws, ai4i_data) -> None:
    ws, _ = champion_ws
    features, _ = ai4i_data
    rows = features.iloc[:20]
    expected = ws.registry.load("ai4i@champion").predict(rows).tolist()
    ws.identity.create_service_account("scoring-app", ["viewer"])
    ws.identity.create_service_account("auditor-bot", ["auditor"])
    scoring = ws.identity.create_token("scoring-app").token
    auditor = ws.identity.create_token("auditor-bot").token
    with on_socket(make_app(ws, AUTH, model_ref="ai4i@champion")) as url:
        bearer = {"authorization": f"Bearer {scoring}"}
        assert httpx.post(url + "/invocations", json=_body(rows), headers=bearer).json()["predictions"] == expected

        missing = httpx.post(url + "/invocations", json=_body(rows))
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in missing.json()["error"]
        wrong = httpx.post(url + "/v1/models/ai4i:predict", json={"instances": rows.values.tolist()},
                           headers={"authorization": "Bearer slw_not-a-real-token"})
        assert wrong.status_code == 401 and "not valid" in wrong.json()["error"]
        denied = httpx.get(url + "/v2/models/ai4i", headers={"authorization": f"Bearer {auditor}"})
        assert denied.status_code == 403 and "'predict'" in denied.json()["error"]
        # Probes and Prometheus need no token; the refusals are counted.
        assert all(httpx.get(url + path).status_code == 200 for path in ("/healthz", "/readyz", "/metrics",
                                                                          "/v2/health/live"))
        scraped = httpx.get(url + "/metrics").text
        assert 'slipway_inference_rejected_requests_total{code="401",protocol="auth"} 2.0' in scraped
        assert 'slipway_inference_rejected_requests_total{code="403",protocol="auth"} 1.0' in scraped

        # An independent v2 client works unchanged, given the header.
        client = triton.InferenceServerClient(url.removeprefix("http://"))
        inputs = []
        for column in FEATURES:
            tensor = triton.InferInput(column, [len(rows)], "BYTES" if column == "Type" else "FP64")
            values = rows[column].to_numpy()
            tensor.set_data_from_numpy(values.astype(object) if column == "Type" else values.astype(np.float64),
                                       binary_data=False)
            inputs.append(tensor)
        result = client.infer("ai4i", inputs, headers=bearer,
                              outputs=[triton.InferRequestedOutput("predict", binary_data=False)])
        assert result.as_numpy("predict").tolist() == expected
        client.close()

        # Revoking the token shuts it out within the cache window.
        token_id = next(t.id for t in ws.identity.list_tokens("scoring-app"))
        ws.identity.revoke_token(token_id)
        deadline = time.time() + 15
        while time.time() < deadline:
            if httpx.post(url + "/invocations", json=_body(rows), headers=bearer).status_code == 401:
                break
            time.sleep(0.5)
        else:
            pytest.fail("a revoked token still got predictions after 15 s")


def test_auth_needs_the_metadata_store(champion_ws, tmp_path) -> None:
    from slipway.workspace import open_workspace
    from tests.support import make_settings, platform_server

    with platform_server(make_settings(tmp_path / "server")) as (url, token):
        remote = open_workspace(make_settings(tmp_path / "client", server_url=url, token=token))
        with pytest.raises(InvalidInput, match="SLIPWAY_STORE_URI"):
            InferenceAuth.for_workspace(remote)
        remote.close()
    ws, _ = champion_ws
    app = make_app(ws, FAST, model_ref="ai4i@champion")
    assert app.auth is None  # off unless asked for
