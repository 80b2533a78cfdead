"""MLflow names and keys as Slipway accepts them, and what an imported object is tagged with."""

from __future__ import annotations

import re

from slipway.core.errors import InvalidInput
from slipway.core.names import MAX_NAME, NAME_RE, check_key, check_label, check_value

# The tags that keep where an object came from (the original ids and times).
RUN_ORIGIN = "mlflow.import.run_id"
PARENT_ORIGIN = "mlflow.import.parent_run_id"
EXPERIMENT_ID = "mlflow.import.experiment_id"
ARTIFACT_URI = "mlflow.import.artifact_uri"
SOURCE = "mlflow.import.source"
MODEL_NAME = "mlflow.import.name"
VERSION = "mlflow.import.version"
CREATED = "mlflow.import.creation_time"
USER = "mlflow.import.user"
LOGGED_MODEL_TAG = "mlflow.loggedModel."  # how the MLflow API of slipway server stores a logged model

_BAD = re.compile(r"[^A-Za-z0-9_.\-]+")


def slipway_label(name: str, fallback: str) -> str:
    """An experiment's or run's name as Slipway keeps it: as MLflow had it when
    :func:`~slipway.core.names.check_label` accepts it (spaces and punctuation included), else
    :func:`slipway_name`'s cleaned form."""
    try:
        return check_label(name)
    except InvalidInput:
        return slipway_name(name, fallback)


def slipway_name(name: str, fallback: str) -> str:
    """``name`` if Slipway accepts it, else with each run of other characters made ``-``
    (``/Users/me/churn model`` → ``Users-me-churn-model``); ``fallback`` when nothing is left."""
    if NAME_RE.fullmatch(name or "") and len(name) <= MAX_NAME:
        return name
    cleaned = _BAD.sub("-", name or "").strip("-._")[:MAX_NAME].rstrip("-._")
    return cleaned or fallback


def valid_pairs(pairs: dict[str, str], what: str, limit: int) -> tuple[dict[str, str], list[str]]:
    """The pairs Slipway accepts, and one reason per pair it refuses."""
    kept, refused = {}, []
    for key, value in pairs.items():
        try:
            kept[check_key(key, f"{what} key")] = check_value(value, f"{what} {key}", limit)
        except InvalidInput as err:
            refused.append(str(err))
    return kept, refused
