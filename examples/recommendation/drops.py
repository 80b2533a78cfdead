"""The ratings as they arrive: everything before 2018 is version 1, then one version per week.

Each drop rewrites the landing CSV with every rating up to the end of that week, in time order,
byte for byte the same each time, so a drop already versioned creates no new version.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import blake3
import pandas as pd

from slipway import Conflict, NotFound, Workspace

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parents[1].parent / "shared" / "data" / "movielens-small"
DATASET = "ratings"
HISTORY_END = pd.Timestamp("2018-01-01").timestamp()  # version 1: everything rated before 2018
WEEK = 7 * 24 * 3600
FILES = ("pipeline.py", "slipway.toml", "policy.yaml", "deployment.yaml")


@dataclasses.dataclass(frozen=True)
class Project:
    folder: Path
    data: Path
    home: Path

    @property
    def pipeline_ref(self) -> str:
        return f"{self.folder / 'pipeline.py'}:retrain"

    @property
    def config(self) -> Path:
        return self.folder / "slipway.toml"

    @property
    def landing(self) -> Path:
        return self.home / "landing" / "ratings.csv"


def locate(home: Path, data: Path | None = None) -> Project:
    """The project, checked before anything is written (NotFound names what is missing)."""
    for name in FILES:
        if not (HERE / name).is_file():
            raise NotFound(f"the example project is incomplete: {HERE / name} is missing")
    data = (data or DEFAULT_DATA).resolve()
    if not (data / "ratings.csv").is_file():
        raise NotFound(f"the MovieLens ratings are not at {data / 'ratings.csv'}; pass --data FOLDER")
    return Project(HERE, data, home.resolve())


def ratings(project: Project) -> pd.DataFrame:
    frame = pd.read_csv(project.data / "ratings.csv")
    return frame.sort_values(["timestamp", "userId", "movieId"], kind="stable").reset_index(drop=True)


def drop_end(stage: int) -> float:
    """The timestamp drop ``stage`` runs up to (0: the history, 1: history + one week, ...)."""
    return HISTORY_END + stage * WEEK


def users(project: Project) -> list[int]:
    return sorted(int(u) for u in ratings(project)["userId"].unique())


def version_drop(ws: Workspace, project: Project, stage: int) -> tuple[Any, bool]:
    """Land drop ``stage`` and make it version ``stage + 1`` of ``ratings``; (version, created).

    Raises:
        Conflict: the home holds a different version with that number (use a fresh home).
    """
    frame = ratings(project)
    project.landing.parent.mkdir(parents=True, exist_ok=True)
    temporary = project.landing.with_suffix(".tmp")
    frame[frame["timestamp"] < drop_end(stage)].to_csv(temporary, index=False)
    temporary.replace(project.landing)
    try:
        existing = ws.data.get_version(f"{DATASET}@{stage + 1}")
    except NotFound:
        existing = None
    if existing is not None:
        digest = blake3.blake3(project.landing.read_bytes()).hexdigest()  # the digest Slipway gives a file
        if [(f["path"], f["digest"]) for f in ws.data.files(existing.ref)] != [(project.landing.name, digest)]:
            raise Conflict(f"{existing.ref} in {project.home} holds other data than drop {stage} of the example; "
                           "run it with a fresh --home")
        return existing, False
    what = "history before 2018" if stage == 0 else f"week {stage} of 2018"
    version = ws.data.add(DATASET, project.landing, key=["userId", "movieId"], message=f"drop {stage}: {what}")
    if version.version != stage + 1:
        raise Conflict(f"drop {stage} became {version.ref}, expected {DATASET}@{stage + 1}: the home holds other "
                       "versions of this dataset; run the example with a fresh --home")
    return version, bool(version.created)
