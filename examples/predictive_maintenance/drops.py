"""Where the example's files and the AI4I data are, and the weekly drops cut from the raw file.

Each drop is one version of the ``ai4i`` dataset; a drop already versioned is recognised by its
bytes, so running the example again creates no new version.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import blake3

from slipway import Conflict, NotFound, Workspace

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parents[1].parent / "shared" / "data" / "ai4i2020" / "ai4i2020.csv"
DATASET = "ai4i"
HISTORY_ROWS = 7000  # UDI 1..7000: the first 70%, the history the first model learns from
WEEK_ROWS = 1000  # then one week of records per drop
FILES = ("pipeline.py", "slipway.toml", "policy.yaml", "deployment.yaml", "model_card.yaml",
         "monitor.yaml")


@dataclasses.dataclass(frozen=True)
class Project:
    """The example's files, the raw data, and the home everything is recorded in."""

    folder: Path
    data: Path
    home: Path
    server_url: str = ""  # a team's platform servers (comma-separated); empty: embedded in ``home``
    token: str = ""  # the admin's API token on those servers

    @property
    def pipeline_ref(self) -> str:
        return f"{self.folder / 'pipeline.py'}:retrain"

    @property
    def config(self) -> Path:
        return self.folder / "slipway.toml"

    @property
    def landing(self) -> Path:
        """Where drops land: one CSV that grows by a week at each drop (as an export would)."""
        return self.home / "landing" / "ai4i.csv"


def locate(home: Path, data: Path | None = None, server_url: str = "", token: str = "") -> Project:
    """The project, checked before anything is written.

    Raises:
        NotFound: a file of the example or the AI4I CSV is missing (the message says where it looked).
    """
    for name in FILES:
        if not (HERE / name).is_file():
            raise NotFound(f"the example project is incomplete: {HERE / name} is missing "
                           "(run the quickstart from a full clone of the repository)")
    data = (data or DEFAULT_DATA).resolve()
    if not data.is_file():
        raise NotFound(f"the AI4I data set is not at {data}; put ai4i2020.csv there (a fresh clone has "
                       "../shared/data/ai4i2020/ beside the repository) or pass --data PATH")
    return Project(HERE, data, home.resolve(), server_url, token)


def drop_rows(stage: int) -> int:
    """Rows the landing file holds after drop ``stage`` (0: the history, 1: history + week 1, ...)."""
    return HISTORY_ROWS + stage * WEEK_ROWS


def write_drop(project: Project, stage: int, week: bytes = b"") -> Path:
    """Write the landing file as it stands after drop ``stage``: the raw CSV's header and first
    rows, byte for byte, so the same drop always has the same digest; ``week`` (CSV lines) stands
    for the last week's raw records when the story altered them (see ``loop.py``)."""
    rows = drop_rows(stage - 1 if week else stage)
    with project.data.open("rb") as raw:
        lines = [raw.readline() for _ in range(rows + 1)]
    if not lines[-1]:
        raise NotFound(f"{project.data} has fewer than {rows} records; drop {stage} needs that many")
    project.landing.parent.mkdir(parents=True, exist_ok=True)
    temporary = project.landing.with_suffix(".tmp")
    temporary.write_bytes(b"".join(lines) + week)
    temporary.replace(project.landing)
    return project.landing


def version_drop(ws: Workspace, project: Project, stage: int, week: bytes = b"", what: str = "") -> tuple[Any, bool]:
    """Land drop ``stage`` (its last week given as ``week`` when altered) and make it version
    ``stage + 1`` of the dataset.

    Returns:
        The dataset version and whether this call created it.

    Raises:
        Conflict: the home already holds a different version with that number (use a fresh home).
    """
    path = write_drop(project, stage, week)
    number = stage + 1
    try:
        existing = ws.data.get_version(f"{DATASET}@{number}")
    except NotFound:
        existing = None
    if existing is not None:
        digest = blake3.blake3(path.read_bytes()).hexdigest()  # the digest Slipway gives a file
        files = [(f["path"], f["digest"]) for f in ws.data.files(existing.ref)]
        if files != [(path.name, digest)]:
            raise Conflict(f"{existing.ref} in {project.home} holds other data than drop {stage} of the quickstart; "
                           "run it with a fresh --home")
        return existing, False
    what = what or (f"history (UDI 1-{drop_rows(0):,})" if stage == 0 else f"week {stage} (UDI up to {drop_rows(stage):,})")
    version = ws.data.add(DATASET, path, key="UDI", message=f"drop {stage}: {what}")
    if version.version != number:
        raise Conflict(f"drop {stage} became {version.ref}, expected {DATASET}@{number}: the home holds other "
                       "versions of this dataset; run the quickstart with a fresh --home")
    return version, bool(version.created)
