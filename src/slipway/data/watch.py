"""``slipway data watch PATH``: a resident watcher that answers ``data status`` for a folder at once.

A one-shot ``data status`` must ``stat`` every file of the folder to notice an edit, which for
tens of thousands of files costs more than everything else it does. A watcher pays that once:
it subscribes to the folder's inotify events, takes a baseline (every file's digest, through the
stat cache), and from then on only looks at the paths the kernel reported as touched. It is the
``core.fsmonitor`` of git, for datasets.

Why the answer is right:

- The watches are installed before the baseline is taken, so a change made during the scan is
  reported and re-examined.
- The kernel queues an event before the changing system call returns, and every query first
  drains the queue, so a change finished before ``data status`` was run is always seen.
- A touched file is re-hashed, not trusted to the stat cache; a new folder is watched and then
  scanned whole; files with other hard links or reached through a symbolic link (whose changes
  may happen outside the watched folders) are re-checked on every query.
- If the kernel's event queue overflows, or a watched folder is moved or removed, the watcher
  forgets what it knew and takes a new baseline at the next query.

The protocol is in :mod:`slipway.data.watch_client`. Linux only (inotify).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slipway.blobs.statcache import StatCache
from slipway.core.errors import InvalidInput, NotFound
from slipway.core.hashing import hash_file
from slipway.data.ingest import folder_digests, list_files
from slipway.data.watch_client import private_folder, socket_path

# Version -> {path: digest} of its manifest (the datasets a client asks about).
ManifestSource = Callable[[str], tuple[int, dict[str, str]]]


class FolderWatcher:
    """The current ``{path: digest}`` of a folder, kept up to date from inotify events."""

    def __init__(self, folder: Path, cache: StatCache, exclude: frozenset[str] = frozenset()) -> None:
        from inotify_simple import INotify, flags

        self.folder = folder.resolve()
        if not self.folder.is_dir():
            raise NotFound(f"folder {folder} does not exist")
        self._cache = cache
        self._exclude = exclude
        self._flags = flags
        self._mask = (flags.MODIFY | flags.ATTRIB | flags.CLOSE_WRITE | flags.CREATE | flags.DELETE
                      | flags.MOVED_FROM | flags.MOVED_TO | flags.DELETE_SELF | flags.MOVE_SELF)
        self.inotify = INotify(nonblocking=True)
        self._folders: dict[int, str] = {}  # watch descriptor -> folder path relative to the root ("" = root)
        self._digests: dict[str, str] = {}
        self._recheck: set[str] = set()  # hard-linked or symlinked files: looked at on every query
        self._dirty_files: set[str] = set()
        self._dirty_folders: set[str] = set()
        self._stale = True
        self.generation = 0  # bumped whenever the folder's digests change
        self.rebaseline()

    # -- events -------------------------------------------------------------------------------
    def _watch_tree(self, relative: str) -> None:
        """Watch ``relative`` (a folder) and every folder below it."""
        stack = [relative]
        while stack:
            rel = stack.pop()
            full = os.path.join(self.folder, rel) if rel else str(self.folder)
            if full in self._exclude:
                continue
            try:
                wd = self.inotify.add_watch(full, self._mask)
            except FileNotFoundError:
                continue  # removed meanwhile: its parent's event says so
            except OSError as err:  # ENOSPC: the user's inotify watch limit
                raise InvalidInput(f"cannot watch {full}: {err}; raise fs.inotify.max_user_watches") from err
            self._folders[wd] = rel
            with contextlib.suppress(FileNotFoundError, NotADirectoryError), os.scandir(full) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(f"{rel}/{entry.name}" if rel else entry.name)

    def drain(self) -> None:
        """Read every queued event and note what it touched (nothing is hashed here)."""
        flags = self._flags
        while True:
            events = self.inotify.read(timeout=0)
            if not events:
                return
            for event in events:
                if event.mask & flags.Q_OVERFLOW:
                    self._stale = True
                    continue
                parent = self._folders.get(event.wd)
                if parent is None:
                    continue
                if event.mask & (flags.DELETE_SELF | flags.MOVE_SELF | flags.IGNORED):
                    if parent == "":
                        self._stale = True  # the watched folder itself went away or moved
                    elif event.mask & flags.IGNORED:
                        self._folders.pop(event.wd, None)  # a sub-folder's watch is gone (its parent said why)
                    continue
                path = f"{parent}/{event.name}" if parent else event.name
                if event.mask & flags.ISDIR:
                    self._dirty_folders.add(path)
                    if event.mask & (flags.CREATE | flags.MOVED_TO):
                        self._watch_tree(path)
                else:
                    self._dirty_files.add(path)

    # -- state --------------------------------------------------------------------------------
    def rebaseline(self) -> None:
        """Forget everything and scan the whole folder again (the watches first)."""
        for wd in list(self._folders):
            with contextlib.suppress(OSError):
                self.inotify.rm_watch(wd)
        self._folders.clear()
        self.drain()  # events of the old watches
        self._folders.clear()
        self._watch_tree("")
        self._dirty_files.clear()
        self._dirty_folders.clear()
        self._digests = folder_digests(self.folder, self._cache, exclude=self._exclude)
        self._recheck = {rel for rel, full, info in list_files(self.folder, self._exclude)
                         if info.st_nlink > 1 or os.path.islink(full)}
        self._stale = False
        self.generation += 1

    def current(self) -> dict[str, str]:
        """``{path: digest}`` of the folder now."""
        self.drain()
        if self._stale:
            self.rebaseline()
            return self._digests
        if self._dirty_folders or self._dirty_files or self._recheck:
            before = dict(self._digests)
            for rel in sorted(self._dirty_folders):
                self._rescan_folder(rel)
            for rel in self._dirty_files | self._recheck:
                self._refresh_file(rel)
            self._dirty_files.clear()
            self._dirty_folders.clear()
            if self._digests != before:
                self.generation += 1
        return self._digests

    def _rescan_folder(self, rel: str) -> None:
        prefix = rel + "/"
        for path in [p for p in self._digests if p.startswith(prefix)]:
            del self._digests[path]
            self._recheck.discard(path)
        full = os.path.join(self.folder, rel)
        if full in self._exclude:
            return
        if not os.path.isdir(full) or os.path.islink(full):
            self._refresh_file(rel)  # a folder replaced by a file of the same name
            return
        for sub, sub_full, info in list_files(Path(full), self._exclude):
            self._dirty_files.add(prefix + sub)
            if info.st_nlink > 1 or os.path.islink(sub_full):
                self._recheck.add(prefix + sub)

    def _refresh_file(self, rel: str) -> None:
        full = os.path.join(self.folder, rel)
        try:
            info = os.stat(full)
        except (FileNotFoundError, NotADirectoryError):
            self._digests.pop(rel, None)
            self._recheck.discard(rel)
            return
        if not stat.S_ISREG(info.st_mode):
            self._digests.pop(rel, None)
            return
        if rel in self._recheck and rel not in self._dirty_files:
            known = self._cache.lookup_many([(full, info)]).get(full)
            if known is not None:
                self._digests[rel] = known
                return
        try:
            digest = hash_file(full)
        except FileNotFoundError:
            self._digests.pop(rel, None)
            return
        self._digests[rel] = digest
        self._cache.store_many([(full, info, digest)])
        if info.st_nlink > 1 or os.path.islink(full):
            self._recheck.add(rel)

    def close(self) -> None:
        self.inotify.close()


def status_answer(watcher: FolderWatcher, dataset: str, manifests: ManifestSource,
                  memo: dict[Any, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The status report of ``dataset`` against the watched folder, as the client expects it
    (``memo`` keeps the last answers: with nothing changed, asking again compares nothing)."""
    version, stored = manifests(dataset)
    current = watcher.current()
    key = (dataset, version, id(stored), watcher.generation)
    if memo is not None and key in memo:
        return memo[key]
    answer = {"dataset": dataset, "version": version,
              "added": sorted(current.keys() - stored.keys()), "removed": sorted(stored.keys() - current.keys()),
              "changed": sorted(p for p in current.keys() & stored.keys() if current[p] != stored[p])}
    if memo is not None:
        memo.clear()
        memo[key] = answer
    return answer


def serve(watcher: FolderWatcher, home: str | os.PathLike[str], manifests: ManifestSource, ready: Callable[[str], None] | None = None,
          stop: Callable[[], bool] | None = None) -> None:
    """Answer status requests on the folder's socket until ``stop()`` is true or the process ends."""
    path = socket_path(home, watcher.folder)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    if not private_folder(os.path.dirname(path)):
        raise InvalidInput(f"{os.path.dirname(path)} must be a folder of this user's that others cannot enter")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # a socket left by a watcher that was killed
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # the socket is the user's own (mode 0600)
    try:
        listener.bind(path)
    finally:
        os.umask(old_umask)
    listener.listen(16)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "client")
    selector.register(watcher.inotify.fileno(), selectors.EVENT_READ, "events")
    if ready:
        ready(path)
    memo: dict[Any, dict[str, Any]] = {}
    try:
        while not (stop and stop()):
            for key, _ in selector.select(timeout=0.5):
                if key.data == "events":
                    watcher.drain()
                else:
                    conn, _ = listener.accept()
                    with conn:
                        if _answer(conn, watcher, manifests, memo):
                            return
    finally:
        selector.close()
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _answer(conn: socket.socket, watcher: FolderWatcher, manifests: ManifestSource,
            memo: dict[Any, dict[str, Any]]) -> bool:
    """Answer one client; True when it asked the watcher to stop."""
    conn.settimeout(10)
    stop = False
    try:
        data = b""
        while not data.endswith(b"\n") and len(data) < 4096:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        request = json.loads(data)
        if request.get("ping") or request.get("stop"):
            stop = bool(request.get("stop"))
            answer: dict[str, Any] = {"pid": os.getpid(), "folder": str(watcher.folder), "stopping": stop}
        else:
            answer = status_answer(watcher, str(request["dataset"]), manifests, memo)
    except Exception as err:  # noqa: BLE001 - any failure: the client computes the status itself
        answer = {"error": str(err)}
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(answer).encode() + b"\n")
    return stop
