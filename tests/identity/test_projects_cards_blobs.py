"""Project scoping of model cards, evidence packs and ``POST /api/v1/blobs/missing``.

fraud-detector/2 was trained by a credit run on credit data (an admin crossing the projects, see
``_teams``). alice, bound in fraud only, gets its card and evidence pack without the credit run,
data and edges, and both name ``credit`` as left out; a global admin's are whole. Asked which
blobs are missing, alice is told a digest only credit refers to is missing (as a download would
refuse it), uploads it again, and her dataset works; the admin still gets the true answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.identity.test_projects_reads import _teams, teams  # noqa: F401 - the shared fixture
from tests.support import make_settings, platform_server

from slipway.blobs.manifest import load_manifest
from slipway.core.evidence_check import check_pack, read_pack
from slipway.core.hashing import hash_bytes
from slipway.pipelines.records import StepPlan, StepUpdate
from slipway.workspace import Workspace, open_workspace

CROSSED = "fraud-detector/2"
# What alice's card or pack may hold of credit: its name, as the project left out, and nothing else.
CARD_FILES = ("model-card.md", "model-card.json", "lineage.json", "evaluation.json", "intended-use.md")


def _card(ws: Workspace, ref: str) -> dict[str, Any]:
    card: dict[str, Any] = json.loads(ws.governance.card(ref, "json"))
    return card


def _check_cards(admin: Workspace, alice: Workspace, crossing_run: str) -> None:
    whole = _card(admin, CROSSED)
    assert "lineage_hidden" not in whole and whole["run_id"] == crossing_run
    assert [d["dataset"] for d in whole["training_data"]] == ["credit-data"]
    assert any(crossing_run in e["src"] for e in whole["lineage"])
    assert "Left out" not in admin.governance.card(CROSSED, "md")

    partial = _card(alice, CROSSED)
    assert partial["lineage_hidden"] == ["credit"]
    assert partial["run_id"] is None and partial["training_data"] == [] and partial["lineage"] == []
    kept = ("lineage_hidden", "run_id", "training_data", "lineage")
    assert {k: v for k, v in partial.items() if k not in kept} == {k: v for k, v in whole.items() if k not in kept}
    for fmt in ("md", "html"):
        text = alice.governance.card(CROSSED, fmt)
        assert "Left out: what is in project(s) credit, which you may not read" in text
        assert "credit-data" not in text and crossing_run not in text
    # Nothing to leave out: the same card as the admin's, which says so in JSON only.
    assert _card(alice, "fraud-detector/1") == {**_card(admin, "fraud-detector/1"), "lineage_hidden": []}
    assert alice.governance.card("fraud-detector/1", "md") == admin.governance.card("fraud-detector/1", "md")


def _check_packs(admin_pack: Path, alice_pack: Path, public_key: bytes) -> None:
    whole = read_pack(admin_pack)
    assert check_pack(whole, public_key)["ok"]
    assert "lineage_hidden" not in json.loads(whole["manifest.json"])
    lineage = json.loads(whole["lineage.json"])
    assert "lineage_hidden" not in lineage and lineage["dataset_versions"] == ["credit-data@1"]
    assert b"Partial lineage" not in whole["README.md"]

    partial = read_pack(alice_pack)
    verdict = check_pack(partial, public_key)
    assert verdict["ok"], verdict["problems"]
    assert json.loads(partial["manifest.json"])["lineage_hidden"] == ["credit"]
    lineage = json.loads(partial["lineage.json"])
    assert lineage["lineage_hidden"] == ["credit"] and lineage["upstream"]["nodes"] == [] and lineage["dataset_versions"] == []
    assert json.loads(partial["model-card.json"])["lineage_hidden"] == ["credit"]
    assert b"**Partial lineage.**" in partial["README.md"] and b"project(s) credit" in partial["README.md"]
    for name in CARD_FILES:
        assert b"credit-data" not in partial[name], name


def test_card_and_evidence_pack_leave_out_unreadable_projects(teams: dict[str, Any], tmp_path: Path) -> None:  # noqa: F811
    admin = teams["admin"]
    alice = open_workspace(teams["alice"])
    try:
        _check_cards(admin, alice, teams["crossing_run"])
        _check_packs(admin.governance.export_evidence(CROSSED, tmp_path / "admin-pack"),
                     alice.governance.export_evidence(CROSSED, tmp_path / "alice-pack"),
                     teams["public_key"].read_bytes())
    finally:
        alice.close()


def test_card_and_evidence_pack_scoping_on_postgres(home: Path, tmp_path: Path, pg_uri: str) -> None:
    with _teams(home, tmp_path, store_uri=pg_uri) as made:
        alice = open_workspace(made["alice"])
        try:
            _check_cards(made["admin"], alice, made["crossing_run"])
            _check_packs(made["admin"].governance.export_evidence(CROSSED, tmp_path / "admin-pack"),
                         alice.governance.export_evidence(CROSSED, tmp_path / "alice-pack"),
                         made["public_key"].read_bytes())
        finally:
            alice.close()


def _digests(ws: Workspace, ref: str) -> tuple[str, str]:
    """A dataset version's manifest digest and its (one) file's digest."""
    version = ws.data.get_version(ref)
    (entry,) = load_manifest(ws.blobs, version.digest).entries
    return version.digest, entry.digest


def _check_missing(made: dict[str, Any], tmp_path: Path) -> None:
    admin: Workspace = made["admin"]
    shared = tmp_path / "shared.csv"
    shared.write_text("a,b\n1,2\n3,4\n")
    admin.data.add("credit-raw", shared, project="credit")
    credit_manifest, credit_file = _digests(admin, "credit-raw@1")
    fraud_manifest, fraud_file = _digests(admin, "fraud-data@1")
    absent = "0" * 64
    with platform_server(made["server"]) as (url, admin_token):
        admin_headers = {"authorization": f"Bearer {admin_token}"}
        token = httpx.post(f"{url}/api/v1/identity/create_token", json={"user": "alice"},
                           headers=admin_headers).json()["token"]
        alice_headers = {"authorization": f"Bearer {token}"}

        def missing(headers: dict[str, str], digests: list[str], via: dict[str, str] | None = None) -> list[str]:
            body: dict[str, Any] = {"digests": digests, **({"via": via} if via else {})}
            answer = httpx.post(f"{url}/api/v1/blobs/missing", json=body, headers=headers, timeout=30)
            assert answer.status_code == 200, answer.text
            found: list[str] = answer.json()["missing"]
            return found

        # A pipeline step's output is referred to from the step's outputs JSON (a LIKE join).
        pipelines = admin.backend("pipelines")
        outputs = {}
        for team in ("credit", "fraud"):
            run = pipelines.create_run("p", "p.py:p", "inprocess", {}, [StepPlan("s", "s", [])], project=team)
            outputs[team] = admin.blobs.put_bytes(f"{team} step output".encode())
            pipelines.update_steps(run.id, [StepUpdate("s", "SUCCEEDED", outputs={
                "out": {"digest": outputs[team], "kind": "bytes", "size": 1}})])
        assert missing(alice_headers, [outputs["credit"], outputs["fraud"]]) == [outputs["credit"]]

        asked = [credit_manifest, credit_file, fraud_manifest, fraud_file, absent]
        assert sorted(missing(admin_headers, asked)) == [absent]  # a global user: the truth
        # alice could download none of credit's, nor a file of fraud's folder without its manifest.
        assert sorted(missing(alice_headers, asked)) == sorted([credit_manifest, credit_file, fraud_file, absent])
        assert sorted(missing(alice_headers, asked, {fraud_file: fraud_manifest, credit_file: fraud_manifest})) == \
            sorted([credit_manifest, credit_file, absent])  # fraud's manifest lists fraud's file only
        assert missing(alice_headers, [credit_file], {credit_file: credit_manifest}) == [credit_file]

        # Uploading a blob the store holds answers as a new upload does: nothing tells them apart.
        fresh = b"alice's own new bytes"
        new = httpx.put(f"{url}/api/v1/blobs/{hash_bytes(fresh)}", content=fresh, headers=alice_headers, timeout=30)
        again = httpx.put(f"{url}/api/v1/blobs/{credit_file}", content=shared.read_bytes(), headers=alice_headers,
                          timeout=30)
        assert (again.status_code, again.json()) == (200, {"digest": credit_file})
        assert (new.status_code, new.json()) == (200, {"digest": hash_bytes(fresh)})
        assert sorted(new.headers) == sorted(again.headers)

        # The Python client, as alice, pushes the file credit already stored into a fraud dataset.
        ws = open_workspace(make_settings(made["home"] / "alice-client", server_url=url, token=token))
        try:
            assert not ws.blobs.exists(credit_file) and ws.blobs.exists(fraud_manifest)
            ws.data.add("fraud-raw", shared, project="fraud")
            got = ws.data.get("fraud-raw@1", tmp_path / "got")
            assert Path(got).read_text() == shared.read_text()
            assert ws.data.load("fraud-raw@1").to_pydict() == {"a": [1, 3], "b": [2, 4]}
        finally:
            ws.close()
        _check_new_version_uploads_only_new_files(made["home"], url, token, tmp_path / "folder")
        _check_get_over_the_latest_version(made["home"], url, token, tmp_path / "folder")
        # The same bytes, one copy: credit's file is now also a file of a fraud version alice may read.
        assert _digests(admin, "fraud-raw@1")[1] == credit_file
        fraud_raw = _digests(admin, "fraud-raw@1")[0]
        assert missing(alice_headers, [credit_file], {credit_file: fraud_raw}) == []
        assert missing(alice_headers, [credit_file], {credit_file: credit_manifest}) == [credit_file] or \
            fraud_raw == credit_manifest


def _check_new_version_uploads_only_new_files(home: Path, url: str, token: str, folder: Path) -> None:
    """alice's second version of a folder, from a new process, uploads only the file it adds: the
    client reads the first version's manifest, so the server counts the files it lists."""
    folder.mkdir()
    files = {name: f"x\n{name}\n".encode() for name in ("a", "b", "c")}
    for name in ("a", "b"):
        (folder / f"{name}.csv").write_bytes(files[name])
    first = open_workspace(make_settings(home / "alice-first", server_url=url, token=token))
    try:
        first.data.add("fraud-folder", folder, project="fraud")
    finally:
        first.close()
    (folder / "c.csv").write_bytes(files["c"])
    second = open_workspace(make_settings(home / "alice-second", server_url=url, token=token))
    uploaded: list[str] = []
    send = second.blobs.session.request  # type: ignore[attr-defined]

    def counting(method: str, path: str, **options: Any) -> Any:
        if method == "PUT":
            uploaded.append(path.rsplit("/", 1)[1])
        return send(method, path, **options)

    second.blobs.session.request = counting  # type: ignore[attr-defined]
    try:
        assert second.data.add("fraud-folder", folder).version == 2
    finally:
        second.close()
    assert hash_bytes(files["c"]) in uploaded
    assert not {hash_bytes(files["a"]), hash_bytes(files["b"])} & set(uploaded), uploaded


def test_blobs_missing_answers_a_project_bound_user_as_a_download_would(teams: dict[str, Any],  # noqa: F811
                                                                        tmp_path: Path) -> None:
    _check_missing(teams, tmp_path)


@pytest.mark.slow
def test_blobs_missing_scoping_on_postgres(home: Path, tmp_path: Path, pg_uri: str) -> None:
    with _teams(home, tmp_path, store_uri=pg_uri) as made:
        _check_missing(made, tmp_path)


def test_rest_and_cli_cards_and_packs_are_scoped(teams: dict[str, Any], tmp_path: Path, cli: Any,  # noqa: F811
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with platform_server(teams["server"]) as (url, admin_token):
        admin = {"authorization": f"Bearer {admin_token}"}
        token = httpx.post(f"{url}/api/v1/identity/create_token", json={"user": "alice"}, headers=admin).json()["token"]

        def card(headers: dict[str, str]) -> dict[str, Any]:
            answer = httpx.post(f"{url}/api/v1/governance/card", json={"ref": CROSSED, "format": "json"},
                                headers=headers, timeout=30)
            assert answer.status_code == 200, answer.text
            found: dict[str, Any] = json.loads(answer.json())
            return found

        assert card({"authorization": f"Bearer {token}"})["lineage_hidden"] == ["credit"]
        assert "lineage_hidden" not in card(admin) and card(admin)["run_id"] == teams["crossing_run"]

        monkeypatch.setenv("SLIPWAY_SERVER_URL", url)  # the CLI, remote, as alice
        monkeypatch.setenv("SLIPWAY_TOKEN", token)
        code, out, _ = cli("governance", "card", CROSSED)
        assert code == 0 and "Left out: what is in project(s) credit" in out and "credit-data" not in out
        code, _, err = cli("governance", "export", CROSSED, str(tmp_path / "pack.zip"))
        assert code == 0, err
        assert json.loads(read_pack(tmp_path / "pack.zip")["manifest.json"])["lineage_hidden"] == ["credit"]
        code, out, err = cli("audit", "verify-pack", str(tmp_path / "pack.zip"), "--public-key", str(teams["public_key"]))
        assert code == 0 and out.startswith("valid:") and "every file matches" in out, out + err


def test_the_web_ui_card_says_what_it_leaves_out(teams: dict[str, Any]) -> None:  # noqa: F811
    from tests.ui.browser import ui_server
    from tests.ui.test_security import signed_in

    with ui_server(teams["server"]) as (url, admin_token):
        token = httpx.post(f"{url}/api/v1/identity/create_token", json={"user": "alice"},
                           headers={"authorization": f"Bearer {admin_token}"}).json()["token"]
        page = signed_in(url, token).get("/models/fraud-detector/2")
        assert page.status_code == 200 and 'id="left-out"' in page.text
        card = page.text.split('id="model-card"')[1]
        assert "Left out: what is in project(s) credit, which you may not read" in card and "credit-data" not in card
        whole = signed_in(url, admin_token).get("/models/fraud-detector/2").text
        assert 'id="left-out"' not in whole and "credit-data" in whole.split('id="model-card"')[1]


def _check_get_over_the_latest_version(home: Path, url: str, token: str, folder: Path) -> None:
    """A new process of alice's gets an older version over the folder holding the latest: the
    files on disk are versioned (the client reads the latest version's manifest, so the server
    counts them), so nothing asks for --force and the older bytes come back."""
    older = (folder / "b.csv").read_bytes()
    (folder / "b.csv").write_bytes(b"x\nb changed\n")
    writer = open_workspace(make_settings(home / "alice-third", server_url=url, token=token))
    try:
        assert writer.data.add("fraud-folder", folder).version == 3
    finally:
        writer.close()
    reader = open_workspace(make_settings(home / "alice-fourth", server_url=url, token=token))
    try:
        reader.data.get("fraud-folder@2", folder)  # raised Conflict (b.csv "not versioned") before
    finally:
        reader.close()
    assert (folder / "b.csv").read_bytes() == older
