"""MLflow's proxied multipart upload against ``slipway server``, with the real MLflow client.

The server under test accepts request bodies of 512 KiB only (``max_request_bytes``), so the 3.5 MB
file these tests log cannot arrive in a single ``PUT``: only the multipart path can store it, and
its 1 MiB parts pass because part ``PUT``s are uploads (``max_upload_bytes``), streamed to disk.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import blake3
import httpx
import pytest

from slipway.server.mlflow.multipart import SWEEP_GRACE_MS, UPLOAD_TTL_MS, UploadStaging
from tests.mlflow_compat.conftest import MlflowServer
from tests.support import make_settings, platform_server

MIB = 1024 * 1024
SIZE = 3 * MIB + 512 * 1024  # four 1 MiB parts, the last one half full
MULTIPART_ENV = """
    import os
    os.environ.update(MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD="true", MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE=str(1024 * 1024),
                      MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE=str(1024 * 1024))
    import hashlib, json, random, mlflow
    from mlflow import MlflowClient
    from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
    data = random.Random(7).randbytes(SIZE_BYTES)
    open("big.bin", "wb").write(data)
    sent = []  # (part number, url) of every part the client PUT
    _upload_part = HttpArtifactRepository._upload_part
    def counted(credential, local_file, size, start_byte):
        sent.append((credential.part_number, credential.url))
        return _upload_part(credential, local_file, size, start_byte)
    HttpArtifactRepository._upload_part = staticmethod(counted)
""".replace("SIZE_BYTES", str(SIZE))


@pytest.fixture
def small_server(request: pytest.FixtureRequest, home: Path, mlflow_python: str) -> Iterator[MlflowServer]:
    """A server refusing request bodies over 512 KiB (``max_upload_bytes`` from the parameter, if any)."""
    workdir = home / "client"
    workdir.mkdir()
    overrides = {"max_request_bytes": MIB // 2, "max_upload_bytes": getattr(request, "param", 5 * 1024**3)}
    settings = make_settings(home / "server", **overrides)
    with platform_server(settings) as (url, token):
        yield MlflowServer(url, token, settings, mlflow_python, workdir)


def staged(server: MlflowServer) -> list[str]:
    """What the staging folder holds (nothing once every upload completed or was aborted)."""
    return sorted(os.listdir(Path(server.settings.home) / "mlflow-uploads"))


@pytest.mark.slow
def test_a_large_artifact_uploads_in_parts_and_reads_back_byte_for_byte(small_server: MlflowServer) -> None:
    out = small_server.run(MULTIPART_ENV + """
    mlflow.set_experiment("big")
    with mlflow.start_run() as run:
        mlflow.log_artifact("big.bin", artifact_path="weights")
    rid = run.info.run_id
    listed = [(f.path, f.file_size) for f in MlflowClient().list_artifacts(rid, "weights")]
    back = open(mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="weights/big.bin"), "rb").read()
    print(json.dumps({"rid": rid, "parts": sorted(n for n, _ in sent), "urls": [u for _, u in sent], "listed": listed,
                      "same": back == data, "sha": hashlib.sha256(data).hexdigest()}))
    """)
    assert out["parts"] == [1, 2, 3, 4]
    assert out["listed"] == [["weights/big.bin", SIZE]] and out["same"] is True
    ws = small_server.workspace()
    (artifact,) = ws.tracking.list_artifacts(out["rid"])
    assert (artifact.path, artifact.kind, artifact.size) == ("weights/big.bin", "file", SIZE)
    assert hashlib.sha256(ws.blobs.read_bytes(artifact.digest)).hexdigest() == out["sha"]
    events = ws.audit.log(subject=f"run:{out['rid']}", action="run.log_artifact")
    assert [(e.details["path"], e.details["digest"]) for e in events] == [("weights/big.bin", artifact.digest)]
    assert staged(small_server) == []
    # A part URL is spent once its upload completed.
    reused = httpx.put(out["urls"][0], content=b"again")
    assert reused.status_code == 404 and reused.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert [a.digest for a in ws.tracking.list_artifacts(out["rid"])] == [artifact.digest]


@pytest.mark.slow
def test_abort_leaves_nothing_and_forged_or_spent_part_urls_are_refused(small_server: MlflowServer) -> None:
    out = small_server.run(MULTIPART_ENV + """
    mlflow.set_experiment("aborted")
    with mlflow.start_run() as run:
        pass
    repo = get_artifact_repository(run.info.artifact_uri)
    create = repo.create_multipart_upload("big.bin", 4, "weights")
    first = HttpArtifactRepository._upload_part(create.credentials[0], "big.bin", 1024 * 1024, 0)
    again = HttpArtifactRepository._upload_part(create.credentials[0], "big.bin", 1024 * 1024, 0)
    errors = {}
    try:  # parts 2-4 were never sent
        repo.complete_multipart_upload("big.bin", create.upload_id, [first], "weights")
    except Exception as e:
        errors["incomplete"] = e.response.status_code, e.response.json()["error_code"]
    from mlflow.entities.multipart_upload import MultipartUploadPart
    wrong = [MultipartUploadPart(n, '"' + "0" * 64 + '"') for n in range(1, 5)]
    try:
        repo.complete_multipart_upload("big.bin", create.upload_id, wrong, "weights")
    except Exception as e:
        errors["wrong_etag"] = e.response.status_code, e.response.json()["error_code"]
    forged = create.credentials[1].url.replace("/2?", "/3?")  # part 2's signature on part 3
    status = {"forged": __import__("requests").put(forged, data=b"x").status_code}
    repo.abort_multipart_upload("big.bin", create.upload_id, "weights")
    try:
        repo.abort_multipart_upload("big.bin", create.upload_id, "weights")
    except Exception as e:
        errors["abort_twice"] = e.response.status_code, e.response.json()["error_code"]
    print(json.dumps({"rid": run.info.run_id, "etags": [first.etag, again.etag], "errors": errors, "status": status,
                      "urls": [c.url for c in create.credentials], "upload_id": create.upload_id,
                      "listed": [f.path for f in MlflowClient().list_artifacts(run.info.run_id)]}))
    """)
    first_mib = random.Random(7).randbytes(SIZE)[:MIB]  # what the script wrote
    assert out["etags"] == [f'"{blake3.blake3(first_mib).hexdigest()}"'] * 2  # the part's BLAKE3, each time
    assert out["errors"] == {"incomplete": [400, "INVALID_PARAMETER_VALUE"], "wrong_etag": [400, "INVALID_PARAMETER_VALUE"],
                             "abort_twice": [404, "RESOURCE_DOES_NOT_EXIST"]}
    assert out["status"] == {"forged": 403}
    assert out["listed"] == [] and small_server.workspace().tracking.list_artifacts(out["rid"]) == []
    assert staged(small_server) == []
    spent = httpx.put(out["urls"][0], content=b"x")
    assert spent.status_code == 404 and spent.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    base, _, sig = out["urls"][0].partition("?sig=")
    for url in (f"{base}?sig={'0' * 64}", base, f"{base}?sig=%C3%A9", f"{base}?sig={sig[:-1]}", f"{base.rsplit('/', 1)[0]}/0?sig={sig}",
                f"{base.rsplit('/', 2)[0]}/{'ab' * 16}/1?sig={sig}", f"{base.rsplit('/', 2)[0]}/%2E%2E/1?sig={sig}"):
        forged = httpx.put(url, content=b"x")
        assert forged.status_code in (403, 404), url
        assert forged.json()["error_code"] in ("PERMISSION_DENIED", "ENDPOINT_NOT_FOUND"), url


@pytest.mark.slow
def test_bad_artifact_paths_and_a_viewer_token_cannot_start_an_upload(small_server: MlflowServer) -> None:
    admin = small_server.workspace()
    admin.identity.create_user("vera", ["viewer"])
    viewer = admin.identity.create_token("vera", "test").token
    run = admin.tracking.start_run(experiment="guarded")
    out = small_server.run(MULTIPART_ENV + f"""
    try:
        MlflowClient().log_artifact("{run.id}", "big.bin")
        outcome = "stored"
    except Exception as e:  # MLflow raises the create call's HTTPError as it is
        outcome = [e.response.json()["error_code"], e.response.status_code, "vera" in e.response.json()["message"]]
    print(json.dumps({{"outcome": outcome, "parts": len(sent)}}))
    """, token=viewer)
    assert out == {"outcome": ["PERMISSION_DENIED", 403, True], "parts": 0}
    headers = {"Authorization": f"Bearer {small_server.token}"}
    base = f"{small_server.url}/api/2.0/mlflow-artifacts/mpu/create"
    for path, local in ((f"x/{run.id}/artifacts/%2E%2E/%2E%2E", "f.bin"), (f"x/{run.id}/other", "f.bin"),
                        (f"x/{run.id}/artifacts", ".."), (f"x/{run.id}/artifacts", "a\nb"),
                        (f"x/{run.id}/artifacts/a%5Cb", "f.bin")):
        answer = httpx.post(f"{base}/{path}", json={"path": local, "num_parts": 2}, headers=headers)
        assert answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE", (path, local)
    for fields in ({"path": "f.bin", "num_parts": 0}, {"path": "f.bin", "num_parts": 10_001}, {"num_parts": 2}):
        answer = httpx.post(f"{base}/x/{run.id}/artifacts", json=fields, headers=headers)
        assert answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE", fields
    unknown = httpx.post(f"{base}/x/{'f' * 32}/artifacts", json={"path": "f.bin"}, headers=headers)
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    anonymous = httpx.post(f"{base}/x/{run.id}/artifacts", json={"path": "f.bin"})
    assert anonymous.status_code == 401
    # Only the caller that created an upload completes or aborts it, for the path it named.
    admin.identity.create_user("dora", ["developer"])
    other = {"Authorization": f"Bearer {admin.identity.create_token('dora', 'test').token}"}
    made = httpx.post(f"{base}/x/{run.id}/artifacts", json={"path": "f.bin", "num_parts": 1}, headers=headers).json()
    mpu = f"{small_server.url}/api/2.0/mlflow-artifacts/mpu"
    for verb in ("complete", "abort"):
        fields = {"path": "f.bin", "upload_id": made["upload_id"], "parts": []}
        theirs = httpx.post(f"{mpu}/{verb}/x/{run.id}/artifacts", json=fields, headers=other)
        assert theirs.status_code == 403 and theirs.json()["error_code"] == "PERMISSION_DENIED", verb
        elsewhere = httpx.post(f"{mpu}/{verb}/x/{run.id}/artifacts/sub", json=fields, headers=headers)
        assert elsewhere.status_code == 400 and "not 'sub/f.bin'" in elsewhere.json()["message"], verb
    assert httpx.post(f"{mpu}/abort/x/{run.id}/artifacts", json={"path": "f.bin", "upload_id": made["upload_id"]},
                      headers=headers).status_code == 200
    assert admin.tracking.list_artifacts(run.id) == [] and staged(small_server) == []
    # A single PUT is streamed to disk too, so it is held to max_upload_bytes, not max_request_bytes:
    # MLflow's client sends files up to 500 MB that way unless multipart is switched on.
    single = httpx.put(f"{small_server.url}/api/2.0/mlflow-artifacts/artifacts/x/{run.id}/artifacts/big.bin",
                       content=b"x" * (2 * MIB), headers=headers)
    assert single.status_code == 200, single.text
    assert [(a.path, a.size) for a in admin.tracking.list_artifacts(run.id)] == [("big.bin", 2 * MIB)]
    admin.tracking.end_run(run.id)


@pytest.mark.slow
@pytest.mark.parametrize("small_server", [2 * MIB], indirect=True)
def test_an_upload_over_max_upload_bytes_is_refused_and_the_client_aborts_it(small_server: MlflowServer) -> None:
    out = small_server.run(MULTIPART_ENV + """
    mlflow.set_experiment("too-big")
    with mlflow.start_run() as run:
        try:
            mlflow.log_artifact("big.bin")
            outcome = "stored"
        except Exception as e:  # a part refused (MlflowException) or the completion (HTTPError), by timing
            outcome = ["refused", "413" in str(e), "2097152" in str(e)]
    print(json.dumps({"rid": run.info.run_id, "outcome": outcome}))
    """)
    assert out["outcome"] == ["refused", True, True]  # 413, naming the limit
    assert small_server.workspace().tracking.list_artifacts(out["rid"]) == []
    assert staged(small_server) == []


def test_the_sweep_removes_expired_uploads_and_what_a_killed_server_left(tmp_path: Path) -> None:
    clock = [2_000_000_000_000]  # 2033: the leftover below was last touched in 1970
    staging = UploadStaging(tmp_path / "uploads", b"k" * 32, 10 * MIB, clock=lambda: clock[0])
    upload = staging.create("alice", "r" * 32, "weights/big.bin", 2)
    fd, temporary = staging.part_temporary(upload, 1)
    with os.fdopen(fd, "wb") as handle:
        handle.write(b"part one")
    staging.keep_part(upload, 1, temporary, "a" * 64)
    leftover = tmp_path / "uploads" / ".new-killed"  # a create killed before its rename
    leftover.mkdir()
    os.utime(leftover, (0, 0))
    assert staging.sweep() == 1 and sorted(os.listdir(tmp_path / "uploads")) == [upload.upload_id]
    clock[0] = upload.expires_ms
    with pytest.raises(Exception, match="expired"):  # no part or completion once expired
        staging.check_part(upload.upload_id, "2", staging.signature(upload.upload_id, 2))
    clock[0] = upload.expires_ms + SWEEP_GRACE_MS - 1
    assert staging.sweep() == 0  # a completion started before expiry may still be assembling
    clock[0] += 1
    assert staging.sweep() == 1 and os.listdir(tmp_path / "uploads") == []
    assert upload.expires_ms - upload.created_ms == UPLOAD_TTL_MS


@pytest.mark.slow
def test_a_completion_that_fails_records_nothing_and_keeps_the_upload(small_server: MlflowServer) -> None:
    begin = small_server.run(MULTIPART_ENV + """
    mlflow.set_experiment("interrupted")
    with mlflow.start_run() as run:
        pass
    repo = get_artifact_repository(run.info.artifact_uri)
    create = repo.create_multipart_upload("big.bin", 4, None)
    parts = [HttpArtifactRepository._upload_part(c, "big.bin", 1024 * 1024, 1024 * 1024 * i)
             for i, c in enumerate(create.credentials)]
    print(json.dumps({"uri": run.info.artifact_uri, "rid": run.info.run_id, "upload_id": create.upload_id,
                      "etags": [p.etag for p in parts]}))
    """)
    upload = Path(small_server.settings.home) / "mlflow-uploads" / begin["upload_id"]
    part = upload / f"3.{begin['etags'][2].strip(chr(34))}"
    os.chmod(part, 0o644)
    part.write_bytes(b"flipped on disk")  # the staged part no longer matches its ETag
    finish = small_server.run(MULTIPART_ENV + f"""
    from mlflow.entities.multipart_upload import MultipartUploadPart
    repo = get_artifact_repository("{begin['uri']}")
    parts = [MultipartUploadPart(n, e) for n, e in enumerate({begin['etags']!r}, start=1)]
    try:
        repo.complete_multipart_upload("big.bin", "{begin['upload_id']}", parts, None)
        outcome = "stored"
    except Exception as e:
        outcome = [e.response.status_code, e.response.json()["error_code"], e.response.json()["message"]]
    print(json.dumps({{"outcome": outcome}}))
    """)
    assert finish["outcome"][:2] == [400, "INVALID_PARAMETER_VALUE"] and "part 3" in finish["outcome"][2]
    assert small_server.workspace().tracking.list_artifacts(begin["rid"]) == []
    assert staged(small_server) == [begin["upload_id"]]  # given back: the client may send part 3 again or abort
    assert sorted(p.name.split(".")[0] for p in upload.iterdir() if p.name != "meta.json") == ["1", "2", "3", "4"]


@pytest.mark.slow
def test_a_server_stopped_mid_upload_records_nothing_and_the_upload_resumes_after_restart(
        home: Path, mlflow_python: str) -> None:
    workdir = home / "client"
    workdir.mkdir()
    settings = make_settings(home / "server", max_request_bytes=MIB // 2)
    with platform_server(settings) as (url, token):
        first = MlflowServer(url, token, settings, mlflow_python, workdir)
        begin = first.run(dedent(MULTIPART_ENV) + dedent("""
        mlflow.set_experiment("restarted")
        with mlflow.start_run() as run:
            pass
        repo = get_artifact_repository(run.info.artifact_uri)
        create = repo.create_multipart_upload("big.bin", 4, None)
        parts = [HttpArtifactRepository._upload_part(c, "big.bin", 1024 * 1024, 1024 * 1024 * i).etag
                 for i, c in enumerate(create.credentials[:2])]
        print(json.dumps({"rid": run.info.run_id, "path": run.info.artifact_uri.split("mlflow-artifacts:/")[1],
                          "upload_id": create.upload_id, "urls": [c.url for c in create.credentials], "etags": parts}))
        """))
    with platform_server(settings) as (url, token):  # same SLIPWAY_HOME: same staging folder and secret
        second = MlflowServer(url, token, settings, mlflow_python, workdir)
        assert second.workspace().tracking.list_artifacts(begin["rid"]) == []
        urls = [url + "/api/2.0" + u.split("/api/2.0", 1)[1] for u in begin["urls"]]  # the new port
        out = second.run(dedent(MULTIPART_ENV) + dedent(f"""
        from mlflow.entities.multipart_upload import MultipartUploadCredential, MultipartUploadPart
        repo = get_artifact_repository("mlflow-artifacts:/{begin['path']}")
        etags = {begin['etags']!r}
        for i, u in enumerate({urls[2:]!r}, start=2):
            etags.append(HttpArtifactRepository._upload_part(MultipartUploadCredential(u, i + 1, {{}}), "big.bin",
                                                             1024 * 1024, 1024 * 1024 * i).etag)
        repo.complete_multipart_upload("big.bin", "{begin['upload_id']}",
                                       [MultipartUploadPart(n, e) for n, e in enumerate(etags, start=1)], None)
        back = open(mlflow.artifacts.download_artifacts(run_id="{begin['rid']}", artifact_path="big.bin"), "rb").read()
        print(json.dumps({{"same": back == data}}))
        """))
        assert out == {"same": True}
        assert [a.size for a in second.workspace().tracking.list_artifacts(begin["rid"])] == [SIZE]
