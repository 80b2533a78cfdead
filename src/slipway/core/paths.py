"""Relative paths that come from stored data (manifests, bundles, artifacts, pointer files).

A path inside a manifest was written by whoever uploaded it, so it is input, not a fact: it must
name a place *inside* the folder it is materialised into. Two checks, used everywhere a stored
path meets the file system:

- :func:`check_relative_path` when a path is accepted or read: POSIX, relative, normalised
  (no empty, ``.`` or ``..`` parts), no NUL or other control character (a trailing newline
  included), no backslash (a separator on Windows), not absolute in any spelling.
- :func:`contained_path` when a file is written: the joined path, with every symlink already on
  disk resolved, must still be inside the destination folder.

Both raise :class:`~slipway.core.errors.InvalidInput` naming the offending path.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from slipway.core.errors import InvalidInput

MAX_PATH = 4096
# One part: no '/', no backslash, no control character; and not '.' or '..'. Checked with
# fullmatch (a '$' would also accept a trailing newline).
_PART = r"(?!\.\.?(?:/|\Z))[^/\\\x00-\x1f\x7f]+"
_SAFE_PATH = re.compile(rf"{_PART}(?:/{_PART})*")
_DRIVE = re.compile(r"[A-Za-z]:")
# Bytes no safe path holds: control characters and the backslash (see all_safe_relative_paths).
_FORBIDDEN_BYTES = bytes([*range(0x20), 0x7F, ord("\\")])


def check_relative_path(value: Any, what: str = "path") -> str:
    """Return ``value`` if it is a safe relative POSIX path, else raise.

    Args:
        value: the path as stored (e.g. a manifest entry's ``path``).
        what: how the message names it ("manifest path", "artifact path", ...).

    Raises:
        InvalidInput: not a string, empty, too long, absolute, not normalised (``a//b``,
            ``./a``, ``a/..``), or holding a backslash, NUL, newline or other control character.

    Example:
        >>> check_relative_path("images/cat.png")
        'images/cat.png'
    """
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > MAX_PATH:
        raise InvalidInput(f"{what} {value[:60]!r}... is {len(value)} characters; the limit is {MAX_PATH}")
    if _SAFE_PATH.fullmatch(value) and not _DRIVE.match(value):
        return value
    raise InvalidInput(f"{what} {value!r} is not a safe relative path: {_why(value)}")


def all_safe_relative_paths(paths: list[str]) -> bool:
    """Whether every one of ``paths`` passes :func:`check_relative_path`, with string operations
    over all of them joined (C speed: a manifest may name millions of files); call the single
    check to learn which one fails."""
    if not paths:
        return True
    try:
        joined = "\n".join(paths)
    except TypeError:
        return False
    if joined.count("\n") != len(paths) - 1 or max(map(len, paths)) > MAX_PATH:
        return False  # a path holds a newline, or is too long
    raw = joined.encode("utf-8", "surrogatepass")
    if len(raw.translate(None, _FORBIDDEN_BYTES)) != len(raw) - (len(paths) - 1):
        return False  # a control character or a backslash besides the joining newlines
    walls = "/" + joined.replace("\n", "/\n/") + "/"  # every part of every path between two '/'
    if "//" in walls or "/./" in walls or "/../" in walls:
        return False  # empty (absolute, 'a//b', trailing '/'), '.' or '..' parts
    return ":" not in joined or not any(_DRIVE.match(path) for path in paths)


def _why(value: str) -> str:
    if value.startswith("/"):
        return "it is absolute"
    if _DRIVE.match(value):
        return "it starts with a drive letter (absolute on Windows)"
    if "\\" in value:
        return "it holds a backslash"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "it holds a control character (NUL, newline, ...)"
    parts = value.split("/")
    if ".." in parts:
        return "it climbs out with '..'"
    return "it is not normalised (an empty or '.' part)"


def normalise_relative_path(value: Any, what: str = "path") -> str:
    """``a/./b`` and ``a//b`` as ``a/b`` (and a trailing ``/`` dropped), then checked.

    For names a user types (artifact paths), where two spellings must name one thing; ``..`` is
    never resolved away, it is refused.

    Raises:
        InvalidInput: as :func:`check_relative_path`, after the harmless parts are removed.
    """
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{what} must be a non-empty string, got {value!r}")
    if value.startswith("/"):
        raise InvalidInput(f"{what} {value!r} is not a safe relative path: it is absolute")
    parts = [part for part in value.split("/") if part not in ("", ".")]
    return check_relative_path("/".join(parts), what) if parts else check_relative_path(value, what)


def contained_path(root: str | os.PathLike[str], relative: str, what: str = "path") -> Path:
    """The absolute path of ``relative`` under the folder ``root``, refused if it leaves it.

    Symlinks already on disk (a linked sub-folder of ``root``) are resolved before the check,
    so a link cannot carry a write outside ``root``; the last part itself may be a symlink
    (the caller replaces it, it does not write through it).

    Raises:
        InvalidInput: ``relative`` is not a safe relative path, or it resolves outside ``root``.
    """
    check_relative_path(relative, what)
    base = Path(root).resolve()
    joined = base / relative
    parent = joined.parent.resolve()
    if parent != base and not parent.is_relative_to(base):
        raise InvalidInput(f"{what} {relative!r} leads outside {base} (through a symlink to {parent})")
    return parent / joined.name


def check_link_inside(link: str | os.PathLike[str], root: str | os.PathLike[str]) -> Path:
    """The resolved target of the symlink ``link`` found while adding the folder ``root``.

    Slipway follows a link only to something inside the folder being added (its bytes are then
    versioned as a plain file, as if the link were a copy); a link out of the folder, or to
    nothing, is refused rather than silently versioning what lies outside, which is what git
    (it stores links as links) and DVC also avoid.

    Raises:
        InvalidInput: the link points outside ``root`` or to nothing (both named).
    """
    base = Path(root).resolve()
    target = Path(os.path.realpath(link))
    if not target.exists():
        raise InvalidInput(f"{os.fspath(link)} is a symlink to {os.readlink(link)!r}, which does not exist; "
                           "remove the link or restore its target before adding the folder")
    if target != base and not target.is_relative_to(base):
        raise InvalidInput(f"{os.fspath(link)} is a symlink to {target}, outside the folder {base} being added; "
                           "Slipway does not follow links out of a folder: copy the file in, or add it on its own")
    return target
