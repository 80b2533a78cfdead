"""Shared test machinery: settings in a temporary home, PostgreSQL databases, a real server."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from slipway.core.environment import os_user
from slipway.core.settings import Settings, load_settings

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if not DATA.exists():  # a fresh clone has ../shared beside it; the work tree too
    DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
AI4I = DATA / "ai4i2020" / "ai4i2020.csv"
GERMAN = DATA / "german-credit" / "german.data"
ADULT = DATA / "adult" / "adult.csv"
MOVIELENS = DATA / "movielens-small"


def make_settings(home: Path, **overrides: Any) -> Settings:
    """Embedded settings in ``home`` acting as ``user`` (default "tester").

    Embedded mode acts as the operating-system user unless a key registered to the named user is
    configured, so a user other than the OS user is enrolled the way a person is: the store's
    bootstrap admin (the OS user) registers it with ``local_roles`` (default admin; an existing
    user keeps its roles) and a signing key made for it under ``home/keys``.
    """
    overrides.setdefault("server_url", "")
    overrides.setdefault("token", "")
    overrides.setdefault("user", "tester")
    settings = load_settings(home=home, **overrides)
    if settings.remote or settings.signing_key or settings.user == os_user():
        return settings
    return enrol(settings)


def enrol(settings: Settings) -> Settings:
    """Register ``settings.user`` (roles ``settings.local_roles`` if new) with a signing key of its
    own, acting as the OS user; returns the settings that act as it."""
    import dataclasses
    import fcntl

    from slipway.core.errors import AlreadyExists
    from slipway.identity.keys import generate_key_files, parse_public_key
    from slipway.local.transport import LocalTransport

    key = Path(settings.home) / "keys" / settings.user
    Path(settings.home).mkdir(parents=True, exist_ok=True, mode=0o700)  # as the store itself would create it
    key.parent.mkdir(exist_ok=True, mode=0o700)
    # Several test processes may open the same home at once (the concurrency tests): one enrols.
    with open(key.parent / ".enrol.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        admin = LocalTransport(dataclasses.replace(settings, user=os_user(), signing_key="", local_roles=("admin",))
                               ).backend("identity")
        try:
            if settings.user not in {u.name for u in admin.list_users()}:
                admin.create_user(settings.user, list(settings.local_roles))
        except AlreadyExists:
            pass
        if not key.exists():
            generate_key_files(key, settings.user)
        public = key.with_name(key.name + ".pub").read_text()
        if parse_public_key(public)[1] not in {k.fingerprint for k in admin.list_keys(settings.user)}:
            admin.add_key(settings.user, public)  # the same person's key, registered in this store too
    return dataclasses.replace(settings, signing_key=str(key))


def user_env(home: Path, user: str = "tester", **overrides: Any) -> dict[str, str]:
    """``SLIPWAY_*`` variables for a CLI subprocess acting as ``user`` in ``home`` (enrolled first)."""
    settings = make_settings(home, user=user, **overrides)
    return {"SLIPWAY_HOME": str(home), "SLIPWAY_USER": settings.user, "SLIPWAY_SIGNING_KEY": settings.signing_key}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; dropped afterwards."""
    import psycopg

    name = f"slipway_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        from slipway.local.transport import _open_database

        _open_database.cache_clear()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def s3_server() -> Iterator[tuple[str, dict[str, str]]]:
    """An S3 API (moto's server) on loopback with one new, empty bucket: yields ``s3://bucket/store``
    and the ``AWS_*`` variables a user would export to reach it."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "slipway-test",
           "AWS_SECRET_ACCESS_KEY": "slipway-test", "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    bucket = f"slipway-team-{uuid.uuid4().hex[:12]}"  # moto keeps buckets per process, across servers
    try:
        s3fs.S3FileSystem().mkdir(bucket)
        yield f"s3://{bucket}/store", env
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class ServerThread:
    """A real uvicorn server on a loopback port, in a thread of the test process."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextlib.contextmanager
def platform_server(settings: Settings, token: str = "slw_test-admin-token") -> Iterator[tuple[str, str]]:
    """Run the platform API over ``settings``' stores; yields (url, admin token)."""
    import dataclasses

    from slipway.server.app import create_app
    from slipway.server.bootstrap import prepare

    settings = dataclasses.replace(settings, bootstrap_token=token)
    prepare(settings)
    with ServerThread(create_app(settings)) as server:
        yield server.url, token


def corrupt_packed_blob(blobs: Any, digest: str, at: int = 20, byte: bytes = b"#") -> None:
    """Change one byte of a packed blob in its pack file, behind the store's back."""
    import os

    pack_name, offset, _ = blobs.packs.locate(digest)
    pack = Path(blobs.packs.folder) / pack_name
    os.chmod(pack, 0o644)
    with open(pack, "r+b") as handle:
        handle.seek(offset + at)
        handle.write(byte)


def in_process_cli(monkeypatch: Any, capsys: Any) -> Any:
    """The real ``slipway`` entry point, run in-process: ``run(*args) -> (exit code, stdout, stderr)``.
    The caller's fixture sets the folder and the ``SLIPWAY_*`` environment first."""
    import sys

    from slipway.cli.main import main
    from slipway.workspace import set_default

    def run(*args: object) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["slipway", *map(str, args)])
        code = 0
        try:
            main()
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        set_default(None)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
