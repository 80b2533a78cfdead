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
- Every file has a watch on its own inode as well as its folder's, so a write through another
  name (a hard link made from outside the folder, the target of a symbolic link) is seen too.
- A touched file is re-hashed, not trusted to the stat cache; a new folder is watched and then
  scanned whole.
- If the kernel's event queue overflows, or the watched folder is moved or removed, or its path
  now names another folder (a parent was renamed), the watcher forgets what it knew and takes a
  new baseline at the next query.

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
from slipway.data.ingest import folder_files, list_files
from slipway.data.watch_client import private_folder, socket_path

FileState = tuple[str, int]  # (digest, permission bits), as a manifest records a file
# Dataset name -> its latest version and that version's {path: (digest, mode)}.
ManifestSource = Callable[[str], tuple[int, dict[str, FileState]]]


class FolderWatcher:
    """The current ``{path: (digest, mode)}`` of a folder, kept up to date from inotify events."""

    def __init__(self, folder: Path, cache: StatCache, exclude: frozenset[str] = frozenset()) -> None:
        from inotify_simple import INotify, flags

        self.folder = folder.resolve()
        if not self.folder.is_dir():
            raise NotFound(f"folder {folder} does not exist")
        self._cache = cache
        self._exclude = exclude
        self._flags = flags
        self._folder_mask = (flags.MODIFY | flags.ATTRIB | flags.CLOSE_WRITE | flags.CREATE | flags.DELETE
                             | flags.MOVED_FROM | flags.MOVED_TO | flags.DELETE_SELF | flags.MOVE_SELF)
        # A watch on each file's inode sees writes through any of its names (a hard link made
        # from outside the folder, the target of a symbolic link), which folder watches do not.
        self._file_mask = flags.MODIFY | flags.ATTRIB | flags.CLOSE_WRITE | flags.DELETE_SELF | flags.MOVE_SELF
        self.inotify = INotify(nonblocking=True)
        self._folders: dict[int, str] = {}  # watch descriptor -> folder path relative to the root ("" = root)
        self._files: dict[int, set[str]] = {}  # watch descriptor -> the paths naming that file
        self._file_wd: dict[str, int] = {}
        self._root_id = (-1, -1)
        self._digests: dict[str, FileState] = {}
        self._dirty_files: set[str] = set()
        self._dirty_folders: set[str] = set()
        self._stale = True
        self.generation = 0  # bumped whenever the folder's digests change
        self.rebaseline()

    # -- watches ------------------------------------------------------------------------------
    def _add_watch(self, path: str, mask: int) -> int | None:
        try:
            return int(self.inotify.add_watch(path, mask))
        except (FileNotFoundError, NotADirectoryError):
            return None  # removed meanwhile: its parent's event says so
        except OSError as err:  # ENOSPC: the user's inotify watch limit
            raise InvalidInput(f"cannot watch {path}: {err}; raise fs.inotify.max_user_watches") from err

    def _watch_file(self, rel: str) -> None:
        wd = self._add_watch(os.path.join(self.folder, rel), self._file_mask)
        old = self._file_wd.get(rel)
        if old is not None and old != wd:
            self._files.get(old, set()).discard(rel)
        if wd is not None:
            self._files.setdefault(wd, set()).add(rel)
            self._file_wd[rel] = wd

    def _unwatch_file(self, rel: str) -> None:
        wd = self._file_wd.pop(rel, None)
        if wd is not None:
            self._files.get(wd, set()).discard(rel)

    def _watch_tree(self, relative: str) -> None:
        """Watch ``relative`` (a folder), every folder below it and every file in them."""
        stack = [relative]
        while stack:
            rel = stack.pop()
            full = os.path.join(self.folder, rel) if rel else str(self.folder)
            if full in self._exclude:
                continue
            wd = self._add_watch(full, self._folder_mask)
            if wd is None:
                continue
            self._folders[wd] = rel
            with contextlib.suppress(FileNotFoundError, NotADirectoryError), os.scandir(full) as entries:
                for entry in entries:
                    child = f"{rel}/{entry.name}" if rel else entry.name
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(child)
                    elif entry.is_file():
                        self._watch_file(child)

    # -- events -------------------------------------------------------------------------------
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
                named = self._files.get(event.wd)
                if named is not None:  # a file's own watch: every path naming it is touched
                    self._dirty_files.update(named)
                    if event.mask & flags.IGNORED:
                        del self._files[event.wd]
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
    def _folder_id(self) -> tuple[int, int]:
        try:
            info = os.stat(self.folder)
        except FileNotFoundError:
            return (-1, -1)
        return (info.st_dev, info.st_ino)

    def rebaseline(self) -> None:
        """Forget everything and scan the whole folder again (the watches first)."""
        for wd in [*self._folders, *self._files]:
            with contextlib.suppress(OSError):
                self.inotify.rm_watch(wd)
        self._folders.clear()
        self._files.clear()
        self._file_wd.clear()
        self.drain()  # events of the old watches (no longer mapped: dropped)
        self._root_id = self._folder_id()
        self._watch_tree("")
        self._dirty_files.clear()
        self._dirty_folders.clear()
        self._digests = folder_files(self.folder, self._cache, exclude=self._exclude)
        self._stale = False
        self.generation += 1

    def current(self) -> dict[str, FileState]:
        """``{path: (digest, mode)}`` of the folder now."""
        self.drain()
        if self._stale or self._folder_id() != self._root_id:  # e.g. a parent folder was renamed
            self.rebaseline()
            return self._digests
        if self._dirty_folders or self._dirty_files:
            before = dict(self._digests)
            for rel in sorted(self._dirty_folders):
                self._rescan_folder(rel)
            for rel in self._dirty_files:
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
            self._unwatch_file(path)
        full = os.path.join(self.folder, rel)
        if full in self._exclude:
            return
        if not os.path.isdir(full) or os.path.islink(full):
            self._dirty_files.add(rel)  # a folder replaced by a file of the same name
            return
        try:
            found = list_files(Path(full), self._exclude, within=self.folder)
        except InvalidInput:  # a link out of the folder: status shows a change, and 'data add' says why
            self._dirty_files.add(rel)
            return
        for sub, _, _ in found:
            self._dirty_files.add(prefix + sub)

    def _refresh_file(self, rel: str) -> None:
        """Re-hash a touched file (not trusting the stat cache: something happened to it)."""
        full = os.path.join(self.folder, rel)
        try:
            info = os.stat(full)
            if not stat.S_ISREG(info.st_mode):
                raise FileNotFoundError(full)
            self._watch_file(rel)  # before hashing: a write from now on is an event
            digest = hash_file(full)
        except (FileNotFoundError, NotADirectoryError):
            self._digests.pop(rel, None)
            self._unwatch_file(rel)
            return
        self._digests[rel] = (digest, stat.S_IMODE(info.st_mode))
        self._cache.store_many([(full, info, digest)])

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


def serve(watcher: FolderWatcher, home: str | os.PathLike[str], manifests: ManifestSource,
          ready: Callable[[str], None] | None = None, stop: Callable[[], bool] | None = None,
          serves: Callable[[str | None], bool] = lambda store: True) -> None:
    """Answer status requests on the folder's socket until ``stop()`` is true or the process ends.
    ``serves(identity)`` tells whether a client's stores (``None``: the defaults) are this watcher's."""
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
                        if _answer(conn, watcher, manifests, memo, serves):
                            return
    finally:
        selector.close()
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _answer(conn: socket.socket, watcher: FolderWatcher, manifests: ManifestSource,
            memo: dict[Any, dict[str, Any]], serves: Callable[[str | None], bool]) -> bool:
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
        elif not serves(request.get("store")):
            answer = {"error": "this watcher serves other stores"}
        else:
            answer = status_answer(watcher, str(request["dataset"]), manifests, memo)
    except Exception as err:  # noqa: BLE001 - any failure: the client computes the status itself
        answer = {"error": str(err)}
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(answer).encode() + b"\n")
    return stop
