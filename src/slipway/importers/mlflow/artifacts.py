"""Copying MLflow artifacts into Slipway's blob store, wherever MLflow put them.

An MLflow artifact location is a local folder (``/…/mlruns/1/<run>/artifacts``, ``file://…``), a
location behind an MLflow server's proxied artifact API (``mlflow-artifacts:/1/<run>/artifacts``),
or an object store URL (``s3://…``, read with fsspec). ``mlflow-artifacts:`` locations are read
from the ``artifacts`` root given to the import (the server's ``--artifacts-destination`` folder or
the server's URL), or from the server being imported.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx

from slipway.blobs.base import BlobStore
from slipway.core.errors import InvalidInput

StoredFiles = dict[str, tuple[str, int]]  # relative path -> (digest, size)


class ArtifactReader:
    """Reads every file under an MLflow artifact location into ``blobs``.

    Args:
        root: where ``mlflow-artifacts:`` locations live: a folder, or an ``http(s)://`` MLflow server.
        http: a client for that server (the REST reader's, with its token), when it is one.
    """

    def __init__(self, blobs: BlobStore, root: str | None, http: httpx.Client | None = None) -> None:
        self.blobs = blobs
        self.root = root.rstrip("/") if root else None
        if self.root and self.root.startswith(("http://", "https://")) and http is None:
            http = httpx.Client(base_url=self.root, timeout=120.0)
        self.http = http if self.root is None or self.root.startswith(("http://", "https://")) else None

    def store(self, location: str) -> StoredFiles:
        """Every file under ``location``, stored; an absent location holds no files.

        Raises:
            InvalidInput: a location that cannot be read, saying what to pass instead.
        """
        if location.startswith("mlflow-artifacts:"):
            path = urlparse(location).path.lstrip("/")
            if self.http is not None:
                return self._store_http(path)
            if self.root is None:
                raise InvalidInput(f"artifacts at {location} are behind an MLflow server: pass --artifacts with that "
                                   "server's URL or its --artifacts-destination folder")
            return self._store_local(Path(self.root.removeprefix("file://")) / path)
        parsed = urlparse(location)
        if parsed.scheme in ("", "file") or len(parsed.scheme) == 1:  # a path (a Windows drive letter too)
            return self._store_local(Path(unquote(parsed.path) if parsed.scheme == "file" else location))
        return self._store_fsspec(location)

    def _store_local(self, folder: Path) -> StoredFiles:
        if not folder.is_dir():
            return {}
        found: StoredFiles = {}
        for base, _dirs, names in os.walk(folder):
            for name in names:
                path = Path(base) / name
                found[path.relative_to(folder).as_posix()] = (self.blobs.put_file(path), path.stat().st_size)
        return found

    def _listing(self, path: str) -> list[tuple[str, int]]:
        assert self.http is not None
        response = self.http.get("/api/2.0/mlflow-artifacts/artifacts", params={"path": path})
        if response.status_code == 404:
            return []
        self._check(response, path)
        files: list[tuple[str, int]] = []
        for item in response.json().get("files", []):
            child = f"{path}/{item['path']}"
            files.extend(self._listing(child) if item.get("is_dir") else [(child, int(item.get("file_size", 0)))])
        return files

    def _store_http(self, path: str) -> StoredFiles:
        assert self.http is not None
        found: StoredFiles = {}
        for child, _size in self._listing(path):
            with tempfile.NamedTemporaryFile() as spool, self.http.stream(
                    "GET", f"/api/2.0/mlflow-artifacts/artifacts/{child}") as response:
                self._check(response, child)
                for chunk in response.iter_bytes(1 << 20):
                    spool.write(chunk)
                spool.flush()
                found[child[len(path) + 1:]] = (self.blobs.put_file(spool.name), spool.tell())
        return found

    @staticmethod
    def _check(response: httpx.Response, path: str) -> None:
        if response.status_code != 200:
            response.read()
            raise InvalidInput(f"the MLflow server refused artifact {path!r}: {response.status_code} {response.text[:200]}")

    def _store_fsspec(self, location: str) -> StoredFiles:
        import fsspec

        try:
            fs, root = fsspec.core.url_to_fs(location)
            found: StoredFiles = {}
            for path, info in fs.find(root, detail=True).items():
                with fs.open(path, "rb") as stream:
                    found[path[len(root.rstrip("/")) + 1:]] = (self.blobs.put_stream(stream), int(info.get("size") or 0))
            return found
        except (ImportError, ValueError, OSError) as err:
            raise InvalidInput(f"cannot read MLflow artifacts at {location}: {err}") from err

    def close(self) -> None:
        if self.http is not None:
            self.http.close()
