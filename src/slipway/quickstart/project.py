"""Where the example project and the AI4I data are, and the weekly drops cut from the raw file.

A fresh clone has the example in ``examples/predictive_maintenance`` and the data sets in
``../shared/data`` beside the repository root; both are found from this package's location.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from slipway.core.errors import NotFound

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = REPO_ROOT / "examples" / "predictive_maintenance"
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "ai4i2020" / "ai4i2020.csv"
HISTORY_ROWS = 7000  # UDI 1..7000: the first 70%, the history the first model learns from
WEEK_ROWS = 1000  # then one week of records per drop


@dataclasses.dataclass(frozen=True)
class Project:
    """The example's files, the raw data, and the home everything is recorded in."""

    folder: Path
    data: Path
    home: Path

    @property
    def pipeline_ref(self) -> str:
        return f"{self.folder / 'pipeline.py'}:retrain"

    @property
    def config(self) -> Path:
        return self.folder / "slipway.toml"

    def file(self, name: str) -> Path:
        return self.folder / name

    @property
    def landing(self) -> Path:
        """Where drops land: one CSV that grows by a week at each drop (as an export would)."""
        return self.home / "landing" / "ai4i.csv"


def locate(home: Path, data: Path | None = None, folder: Path | None = None) -> Project:
    """The project, checked: every file it needs exists.

    Raises:
        NotFound: the example folder or the AI4I CSV is missing (the message says where it looked).
    """
    folder = (folder or EXAMPLE).resolve()
    for name in ("pipeline.py", "slipway.toml", "policy.yaml", "deployment.yaml", "model_card.yaml"):
        if not (folder / name).is_file():
            raise NotFound(f"the example project is incomplete: {folder / name} is missing "
                           "(run the quickstart from a full clone of the repository)")
    data = (data or DEFAULT_DATA).resolve()
    if not data.is_file():
        raise NotFound(f"the AI4I data set is not at {data}; put ai4i2020.csv there (a fresh clone has "
                       "../shared/data/ai4i2020/ beside the repository) or pass --data PATH")
    return Project(folder, data, home.resolve())


def drop_rows(stage: int) -> int:
    """Rows the landing file holds after drop ``stage`` (0: the history, 1: history + week 1, ...)."""
    return HISTORY_ROWS + stage * WEEK_ROWS


def write_drop(project: Project, stage: int) -> Path:
    """Write the landing file as it stands after drop ``stage``: the raw CSV's header and first
    rows, byte for byte, so the same drop always has the same digest."""
    rows = drop_rows(stage)
    with project.data.open("rb") as raw:
        lines = [raw.readline() for _ in range(rows + 1)]
    if not lines[-1]:
        raise NotFound(f"{project.data} has fewer than {rows} records; drop {stage} needs that many")
    project.landing.parent.mkdir(parents=True, exist_ok=True)
    temporary = project.landing.with_suffix(".tmp")
    temporary.write_bytes(b"".join(lines))
    temporary.replace(project.landing)
    return project.landing
