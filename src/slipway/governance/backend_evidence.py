"""Governance endpoints for the evidence policies rely on: data validation verdicts.

A verdict counts for ``data_validation: required`` only if the platform computed it from the
stored dataset version and its stored schema (:meth:`validate_dataset`, any developer may ask), or
a validator recorded it (:meth:`record_data_validation`). Either way the dataset version must
exist and the inputs are recorded by digest (the version's manifest, the schema's text), so a
verdict can be traced to exactly what was checked.
"""

from __future__ import annotations

from typing import Any

from slipway.core.auth import endpoint
from slipway.core.errors import InvalidInput
from slipway.core.events import Action, Subject
from slipway.core.hashing import hash_bytes
from slipway.core.limits import whole_number
from slipway.core.names import check_name
from slipway.data.access import manifest_of, table_entry
from slipway.data.backend import DataBackend
from slipway.data.records import DatasetVersion
from slipway.data.schema import load_schema
from slipway.data.tables import read_table
from slipway.data.validate import validate_table
from slipway.governance.evidence import data_validations
from slipway.governance.records import DataValidation
from slipway.store.context import ServiceContext


def _anomaly(a: Any) -> dict[str, Any]:
    return {"kind": a.kind, "column": a.column, "severity": a.severity, "detail": a.detail}


class EvidenceEndpoints:
    ctx: ServiceContext

    def _dataset_version(self, dataset_version: str) -> DatasetVersion:
        """The stored version ``NAME@N``; NotFound if it does not exist."""
        name, sep, number = str(dataset_version).partition("@")
        version = whole_number(number) if sep else None
        if version is None:
            raise InvalidInput(f"dataset version {dataset_version!r} is malformed: use NAME@VERSION")
        return DataBackend(self.ctx).get_version(check_name(name, "dataset"), version)

    def _record(self, version: DatasetVersion, details: DataValidation) -> DataValidation:
        with self.ctx.db.write() as conn:
            self.ctx.audit(conn, Action.DATA_VALIDATION, Subject.DATASET_VERSION, f"{version.name}@{version.version}", dict(details))
        return details

    @endpoint("governance.validate", "data.write")
    def validate_dataset(self, dataset_version: str, table: str | None = None) -> DataValidation:
        """Validate a stored dataset version against its dataset's stored schema, here (on the server
        in remote mode), and record the verdict for policies. Needs ``data.write`` or
        ``governance.validate``."""
        version = self._dataset_version(dataset_version)
        schema = DataBackend(self.ctx).get_schema(version.name)  # NotFound names the missing schema
        entry = table_entry(manifest_of(self.ctx.blobs, version), version, table)
        data = read_table(self.ctx.blobs.read_bytes(entry.digest), entry.path)
        anomalies = [_anomaly(a) for a in validate_table(data, load_schema(schema.body))]
        return self._record(version, {
            "passed": not any(a["severity"] == "error" for a in anomalies), "rows": data.num_rows,
            "errors": sum(a["severity"] == "error" for a in anomalies), "anomalies": anomalies[:50],
            "source": "platform",
            "inputs": {"dataset_digest": version.digest, "table": entry.path, "table_digest": entry.digest,
                       "schema_revision": schema.revision, "schema_digest": hash_bytes(schema.body.encode())}})

    @endpoint("read")
    def data_validations(self, dataset_version: str, limit: int = 20) -> list[dict[str, Any]]:
        """The validation verdicts recorded on a stored dataset version (``NAME@N``), newest first,
        each with its ``actor`` and time ``ts``; ``source`` says whether the platform computed it
        from the stored data or a validator recorded it."""
        version = self._dataset_version(dataset_version)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 200:
            raise InvalidInput(f"limit must be an integer from 1 to 200, got {limit!r}")
        with self.ctx.db.read() as conn:
            return data_validations(conn, f"{version.name}@{version.version}", limit)

    @endpoint("governance.validate")
    def record_data_validation(self, dataset_version: str, passed: bool, rows: int, anomalies: list[dict[str, Any]],
                               schema_digest: str | None = None) -> DataValidation:
        """Record a validator's verdict on a stored dataset version (validator or admin only); the
        version's manifest digest is recorded with it, and ``schema_digest`` if given."""
        version = self._dataset_version(dataset_version)
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise InvalidInput(f"rows must be a non-negative integer, got {rows!r}")
        if version.rows is not None and rows != version.rows:
            raise InvalidInput(f"{version.ref} has {version.rows} rows, not {rows}; a verdict must be about the "
                               "stored version")
        if not isinstance(anomalies, list) or not all(isinstance(a, dict) for a in anomalies):
            raise InvalidInput("anomalies must be a list of objects")
        return self._record(version, {
            "passed": bool(passed), "rows": rows, "errors": sum(a.get("severity") == "error" for a in anomalies),
            "anomalies": anomalies[:50], "source": "validator",
            "inputs": {"dataset_digest": version.digest, "schema_digest": schema_digest}})
