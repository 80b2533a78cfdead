"""Which files are tables, decided by name alone (no Arrow import, so quick commands stay quick)."""

from __future__ import annotations

TABULAR_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")


def is_tabular(path: str) -> bool:
    """Whether a file is read as a table (CSV, TSV or Parquet)."""
    return path.lower().endswith(TABULAR_SUFFIXES)
