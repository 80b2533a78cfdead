"""Fixtures for the data tests: slices of the real AI4I and MovieLens files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import AI4I, MOVIELENS


def write_ai4i_head(folder: Path, rows: int, name: str = "ai4i.csv") -> Path:
    """The header and first ``rows`` rows of AI4I, as a new CSV file."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = AI4I.read_text().splitlines(keepends=True)
    path = folder / name
    path.write_text("".join(lines[: rows + 1]))
    return path


@pytest.fixture
def ai4i_7000(tmp_path: Path) -> Path:
    return write_ai4i_head(tmp_path / "first", 7000)


@pytest.fixture
def ai4i_full(tmp_path: Path) -> Path:
    return write_ai4i_head(tmp_path / "full", 10_000)


@pytest.fixture
def movielens_folder(tmp_path: Path) -> Path:
    """A working copy of MovieLens: the first 20,000 ratings and all movies."""
    folder = tmp_path / "movielens"
    folder.mkdir()
    ratings = (MOVIELENS / "ratings.csv").read_text().splitlines(keepends=True)
    (folder / "ratings.csv").write_text("".join(ratings[:20_001]))
    (folder / "movies.csv").write_bytes((MOVIELENS / "movies.csv").read_bytes())
    return folder
