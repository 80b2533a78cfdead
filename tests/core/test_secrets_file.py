"""A home secret is made once, kept owner-only, shared by concurrent first users, and an empty
file left by a killed creator is repaired."""

from __future__ import annotations

import itertools
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from slipway.core.secrets_file import home_secret


def test_made_once_owner_only_and_agreed_on(tmp_path: Path) -> None:
    counter = itertools.count()
    path = tmp_path / "home" / "secret"
    with ThreadPoolExecutor(8) as pool:
        values = set(pool.map(lambda _: home_secret(path, lambda: f"s{next(counter)}".encode()), range(32)))
    assert len(values) == 1 and values == {path.read_bytes()}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert home_secret(path, lambda: b"other") == values.pop()


def test_an_empty_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"")
    assert home_secret(path, lambda: b"fresh") == b"fresh" and path.read_bytes() == b"fresh"
