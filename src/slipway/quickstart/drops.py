"""Versioning the weekly drops: each drop is one dataset version, and a drop already versioned is
recognised by its bytes, so running the quickstart again creates no new version."""

from __future__ import annotations

from typing import Any

from slipway.core.errors import Conflict, NotFound
from slipway.core.hashing import hash_file
from slipway.quickstart.project import Project, drop_rows, write_drop
from slipway.quickstart.team import DATASET


def version_drop(ws: Any, project: Project, stage: int) -> tuple[Any, bool]:
    """Land drop ``stage`` and make it version ``stage + 1`` of the dataset.

    Returns:
        The dataset version and whether this call created it.

    Raises:
        Conflict: the home already holds a different version with that number (it was used for
            something else; use a fresh ``--home``).
    """
    path = write_drop(project, stage)
    number = stage + 1
    try:
        existing = ws.data.get_version(f"{DATASET}@{number}")
    except NotFound:
        existing = None
    if existing is not None:
        files = [(f["path"], f["digest"]) for f in ws.data.files(existing.ref)]
        if files != [(path.name, hash_file(path))]:
            raise Conflict(f"{existing.ref} in {project.home} holds other data than drop {stage} of the quickstart; "
                           "run it with a fresh --home")
        return existing, False
    what = f"history (UDI 1-{drop_rows(0):,})" if stage == 0 else f"week {stage} (UDI up to {drop_rows(stage):,})"
    version = ws.data.add(DATASET, path, key="UDI", message=f"drop {stage}: {what}")
    if version.version != number:
        raise Conflict(f"drop {stage} became {version.ref}, expected {DATASET}@{number}: the home holds other "
                       "versions of this dataset; run the quickstart with a fresh --home")
    return version, bool(version.created)
