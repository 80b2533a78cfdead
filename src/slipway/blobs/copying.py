"""Kernel copies for the local blob store: ``copy_file_range`` (a reflink where the file system
has them) while another thread hashes, and hard links."""

from __future__ import annotations

import os

from slipway.core.hashing import CHUNK

COPY_CHUNK = 16 << 20  # the hashing side reads (and BLAKE3 hashes on all cores) this much at a time


def copy_range(source: str, target_fd: int, size: int, done: list[int], failed: list[BaseException]) -> None:
    """Copy ``size`` bytes of ``source`` into ``target_fd`` inside the kernel (copy_file_range:
    no pass through user space; a reflink where the file system has them)."""
    try:
        with open(source, "rb", buffering=0) as handle:
            copied = 0
            try:
                while copied < size:
                    n = os.copy_file_range(handle.fileno(), target_fd, size - copied, copied, copied)
                    if n == 0:
                        break  # the file shrank
                    copied += n
            except OSError:  # no copy_file_range across these file systems: copy through memory
                os.lseek(target_fd, copied, os.SEEK_SET)
                handle.seek(copied)
                while chunk := handle.read(CHUNK):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(target_fd, view):]
                    copied += len(chunk)
            done.append(copied)
    except BaseException as err:  # reported to the caller
        failed.append(err)


def try_link(source: str, dest: str) -> bool:
    """Hard-link ``dest`` to ``source``; False when the file systems differ or links are refused."""
    try:
        os.link(source, dest)
        return True
    except OSError:
        return False


def copy_hashing(source: str, target_fd: int) -> str:
    """Copy the file ``source`` into ``target_fd`` and return its BLAKE3 digest.

    The copy runs in the kernel on one thread while this one reads the file and hashes it
    (BLAKE3 on all cores, GIL released), so copying costs little more than hashing and memory
    stays at one chunk. If the file changed while it was being copied, the digest is taken from
    the copy itself, so a blob always matches its digest.
    """
    import threading

    import blake3

    before = os.stat(source)
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    if before.st_size < COPY_CHUNK:  # small: read once, hash and write from memory
        with open(source, "rb", buffering=0) as handle:
            data = handle.read()
        view = memoryview(data)
        while view:
            view = view[os.write(target_fd, view):]
        return str(hasher.update(data).hexdigest())
    done: list[int] = []
    failed: list[BaseException] = []
    copier = threading.Thread(target=copy_range, args=(source, target_fd, before.st_size, done, failed),
                              name="slipway-blob-copy", daemon=True)
    copier.start()
    try:
        buffer = bytearray(COPY_CHUNK)
        view = memoryview(buffer)
        with open(source, "rb", buffering=0) as handle:
            while n := handle.readinto(buffer):
                hasher.update(view[:n])
    finally:
        copier.join()
    if failed:
        raise failed[0]
    after = os.stat(source)
    if done != [before.st_size] or (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        return hash_fd(target_fd)
    return str(hasher.hexdigest())


def hash_fd(fd: int) -> str:
    """The BLAKE3 digest of everything in the open file ``fd`` (read with ``pread``)."""
    import blake3

    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    offset = 0
    while chunk := os.pread(fd, CHUNK, offset):
        hasher.update(chunk)
        offset += len(chunk)
    return str(hasher.hexdigest())
