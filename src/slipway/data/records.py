"""What the data service returns: datasets, versions, diffs, anomalies and status reports."""

from __future__ import annotations

from slipway.core.records import record


@record
class Dataset:
    name: str
    description: str
    key_columns: list[str]
    created_ms: int
    versions: int
    latest: int | None


@record
class DatasetVersion:
    """One immutable version of a dataset; pass it to ``slipway.log_input``.

    ``digest`` is the manifest blob's digest; ``created`` is False when an add found the content
    unchanged and returned the existing version instead of making a new one.
    """

    name: str
    version: int
    digest: str
    kind: str  # file | folder | table
    rows: int | None
    size: int
    file_count: int
    schema: dict[str, dict[str, str]]  # table path -> column -> Arrow type
    profile_digest: str | None
    created_ms: int
    created_by: str
    message: str
    key_columns: list[str]
    created: bool = True

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def __str__(self) -> str:
        return self.ref


@record
class DatasetUsage:
    """Who used a version: run ids (from run inputs) and model versions (``name/3``)."""

    runs: list[str]
    models: list[str]


@record
class FileChange:
    path: str
    change: str  # added | removed | changed (bytes) | mode (same bytes, other permissions)
    old_digest: str | None
    new_digest: str | None


@record
class ColumnShift:
    table: str
    column: str
    metric: str  # psi | tvd
    score: float


@record
class TableDiff:
    table: str
    key_columns: list[str]
    rows_added: int | None
    rows_removed: int | None
    rows_changed: int | None
    old_rows: int
    new_rows: int
    columns_added: list[str]
    columns_removed: list[str]
    type_changes: dict[str, list[str]]
    shifted: list[ColumnShift]


@record
class DatasetDiff:
    old: str
    new: str
    files: list[FileChange]
    tables: list[TableDiff]


@record
class Anomaly:
    """One finding of validation. ``share`` is the fraction of rows concerned, when it applies."""

    kind: str  # missing_column | extra_column | type_changed | null_share | out_of_range | unseen_category | too_few_rows | stale_data
    column: str | None
    severity: str  # error | warning
    share: float | None
    detail: str


@record
class ValidationReport:
    target: str
    rows: int
    anomalies: list[Anomaly]

    @property
    def ok(self) -> bool:
        return not any(a.severity == "error" for a in self.anomalies)


@record
class StatusReport:
    """A working folder compared with a dataset version (Slipway's ``dvc status``)."""

    dataset: str
    version: int | None
    added: list[str]
    removed: list[str]
    changed: list[str]

    @property
    def clean(self) -> bool:
        return not (self.added or self.removed or self.changed)


@record
class SchemaRevision:
    dataset: str
    revision: int
    body: str  # YAML
    source_version: int | None
    created_ms: int
    created_by: str


@record
class VerifyReport:
    ref: str
    blobs: int
    corrupt: list[str]  # "path (digest)" of every file whose bytes no longer match
    missing: list[str]

    @property
    def ok(self) -> bool:
        return not (self.corrupt or self.missing)

