"""Sign-in, the session cookie, CSRF and role checks of the UI, over HTTP against a real server:
every action is refused server-side for a role that lacks it, even when forged outside the page."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.ui.story import XSS_IMG, XSS_SCRIPT, Story

pytestmark = pytest.mark.xdist_group("ui-security")


def signed_in(url: str, token: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    page = client.get("/signin")
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
    assert nonce, page.text
    done = client.post("/signin", data={"nonce": nonce.group(1), "token": token, "next": "/"})
    assert done.status_code == 303, done.text
    return client


def csrf_of(client: httpx.Client, path: str = "/") -> str:
    found = re.search(r'data-csrf="([0-9a-f]+)"', client.get(path).text)
    assert found
    return found.group(1)


def test_pages_need_a_session_and_sign_in_sets_a_strict_http_only_cookie(server: str, story: Story) -> None:
    anonymous = httpx.get(f"{server}/runs?filter=x", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/signin?next=%2Fruns%3Ffilter%3Dx"

    client = httpx.Client(base_url=server)
    page = client.get("/signin")
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    wrong = client.post("/signin", data={"nonce": nonce, "token": "slw_not-a-token", "next": "/"})
    assert wrong.status_code == 401 and "slipway_session" not in wrong.headers.get("set-cookie", "")
    no_nonce = httpx.post(f"{server}/signin", data={"token": story.tokens["bob"]})
    assert no_nonce.status_code == 403 and "slipway_session" not in no_nonce.headers.get("set-cookie", "")

    done = client.post("/signin", data={"nonce": nonce, "token": story.tokens["bob"], "next": "//evil.example/x"})
    assert done.status_code == 303 and done.headers["location"] == "/"  # no open redirect
    cookie = next(h for h in done.headers.get_list("set-cookie") if h.startswith("slipway_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie  # plain HTTP here
    home = client.get("/")
    assert home.status_code == 200 and "bob" in home.text
    assert "script-src 'self'" in home.headers["content-security-policy"]


def test_forged_decisions_are_refused_and_change_nothing(server: str, story: Story) -> None:
    decide = f"/approvals/{story.request_id}/decide"
    bob = signed_in(server, story.tokens["bob"])
    no_token = bob.post(decide, data={"decision": "approve", "comment": "forged"})
    assert no_token.status_code == 403 and "CSRF" in no_token.text
    wrong_token = bob.post(decide, data={"decision": "approve", "csrf_token": "0" * 64})
    assert wrong_token.status_code == 403

    vera = signed_in(server, story.tokens["vera"])  # a viewer, with her own valid CSRF token
    refused = vera.post(decide, data={"decision": "approve", "csrf_token": csrf_of(vera)})
    assert refused.status_code == 403 and "governance.approve" in refused.text
    alice = signed_in(server, story.tokens["alice"])  # the requester
    own = alice.post(decide, data={"decision": "approve", "csrf_token": csrf_of(alice)})
    assert own.status_code == 403 and "may not decide" in own.text
    promote = vera.post(f"/models/{story.model}/{story.version}/promote",
                        data={"alias": "champion", "csrf_token": csrf_of(vera)})
    assert promote.status_code == 403

    page = bob.get(f"/models/{story.model}/{story.version}")
    assert "0 / 1" in page.text and 'value="approve"' in page.text  # still open; bob may decide
    for client in (vera, alice):
        shown = client.get(f"/models/{story.model}/{story.version}").text
        assert 'value="approve"' not in shown
    assert 'action="/models/credit' not in vera.get(f"/models/{story.model}/{story.version}").text  # no promote form
    audit = vera.get("/audit")
    assert audit.status_code == 403 and "audit.read" in audit.text


def test_untrusted_text_is_escaped_in_the_html(server: str, story: Story) -> None:
    admin_free = signed_in(server, story.tokens["vera"])
    run = admin_free.get(f"/runs/{story.runs['xss']}").text
    assert XSS_IMG not in run and XSS_SCRIPT not in run
    assert "&lt;img src=x onerror=&#34;window.__xss=1&#34;&gt;" in run and "&lt;script&gt;" in run
    card = admin_free.get(f"/models/{story.model}/{story.version}").text
    assert XSS_IMG not in card and XSS_SCRIPT not in card and 'href="javascript:' not in card
    assert "<strong>credit</strong>" in card  # the card's Markdown is rendered, its HTML is not
    dataset = admin_free.get("/datasets/xss-columns/1").text
    assert "<svg onload" not in dataset and "&lt;svg onload=" in dataset


def test_charts_get_at_most_a_few_thousand_points_and_keep_the_spike(server: str, story: Story) -> None:
    client = signed_in(server, story.tokens["vera"])
    series = client.get(f"/runs/{story.runs['long-training']}/series", params={"key": "loss"}).json()
    assert series["total"] == 30_000 and series["downsampled"] and len(series["steps"]) <= 2000
    spike = 1.0 / (1 + 12_345 / 500) + 0.5  # one point; an average per bucket would hide it, the maximum does not
    assert any(v == pytest.approx(spike) for v in series["values"])
    assert series["steps"] == sorted(series["steps"]) and series["steps"][0] == 0 and series["steps"][-1] == 29_999
    zoomed = client.get(f"/runs/{story.runs['long-training']}/series",
                        params={"key": "loss", "min_step": 12_000, "max_step": 12_999}).json()
    assert zoomed["total"] == 1000 and not zoomed["downsampled"] and zoomed["steps"][0] == 12_000


def test_the_runs_table_pages_on_the_server(server: str, story: Story) -> None:
    client = signed_in(server, story.tokens["vera"])
    first = client.get("/runs", params={"size": 3, "order": "metrics.`auc` DESC"})
    names = re.findall(r'class="run-link">([^<]+)<', first.text)
    assert names == ["xgb-3", "rf-0", "long-training"]
    next_page = re.search(r'href="([^"]+)" id="next-page"', first.text).group(1)  # type: ignore[union-attr]
    second = client.get(next_page.replace("&amp;", "&"))
    assert re.findall(r'class="run-link">([^<]+)<', second.text) == ["xgb-5", "rf-1", "lr-4"]
    bad = client.get("/runs", params={"filter": "metrics.auc >"})
    assert bad.status_code == 400 and 'id="filter-error"' in bad.text


def test_bad_query_parameters_are_a_4xx_page(server: str, story: Story) -> None:
    client = signed_in(server, story.tokens["audrey"])
    for path in (f"/runs/{story.runs['long-training']}/series?key=loss&min_step=abc", "/audit?limit=lots",
                 "/audit?since=yesterday", "/compare?run=" + story.runs["rf-0"], "/runs/no-such-run",
                 "/models/credit/999", "/lineage/run/no-such-run", "/datasets/xss-columns/diff?old=1&new=7"):
        answer = client.get(path)
        assert 400 <= answer.status_code < 500, (path, answer.status_code)
        assert 'id="error-message"' in answer.text, path


def test_htmx_gets_the_table_alone_and_a_history_restore_the_whole_page(server: str, story: Story) -> None:
    client = signed_in(server, story.tokens["vera"])
    partial = client.get("/runs", params={"filter": "params.model = 'rf'"}, headers={"HX-Request": "true"})
    assert "<html" not in partial.text and sorted(re.findall(r'class="run-link">([^<]+)<', partial.text)) == ["rf-0", "rf-1"]
    restored = client.get("/runs", params={"filter": "params.model = 'rf'"},
                          headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restored.text and 'id="runs-table"' in restored.text


def test_sign_in_with_a_password_and_sign_out_ends_the_session(server: str, story: Story) -> None:
    from slipway.workspace import open_workspace
    from tests.support import make_settings

    ws = open_workspace(make_settings(story.home))
    try:
        ws.identity.set_password("bob", "a long enough passphrase")
    finally:
        ws.close()
    client = httpx.Client(base_url=server)
    nonce = re.search(r'name="nonce" value="([^"]+)"', client.get("/signin").text).group(1)  # type: ignore[union-attr]
    for user, password in (("bob", "the wrong passphrase"), ("nobody", "a long enough passphrase"),
                           ("vera", "a long enough passphrase")):  # vera has no password
        wrong = client.post("/signin", data={"nonce": nonce, "user": user, "password": password, "next": "/"})
        assert wrong.status_code == 401 and "the user name or the password is wrong" in wrong.text
        assert "slipway_session" not in wrong.headers.get("set-cookie", "")
    forged = httpx.post(f"{server}/signin", data={"user": "bob", "password": "a long enough passphrase"})
    assert forged.status_code == 403  # no double-submit nonce
    done = client.post("/signin", data={"nonce": nonce, "user": "bob", "password": "a long enough passphrase",
                                        "next": "/models"})
    assert done.status_code == 303 and done.headers["location"] == "/models"
    cookie = next(h for h in done.headers.get_list("set-cookie") if h.startswith("slipway_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    token = client.cookies["slipway_session"]
    assert client.get("/").status_code == 200 and "bob" in client.get("/").text
    assert client.post("/signout", data={"csrf_token": csrf_of(client)}).status_code == 303
    stolen = httpx.get(f"{server}/", cookies={"slipway_session": token}, follow_redirects=False)
    assert stolen.status_code == 303 and stolen.headers["location"].startswith("/signin")  # the token is revoked
