"""Feature view sources as DuckDB relations: a file or folder, a dataset version, or SQL over those.

:class:`SourceReader` turns a source spec into a SQL expression DuckDB can select from, reading
Parquet and CSV in place (out of core) and a dataset version's loose blob in place too; a packed
or remote blob is read once into Arrow and registered. ``lineage`` collects what each source was,
as ``kind:id`` (``dataset_version:name@3`` or ``file:/abs/path``), for the training set's edges.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from slipway.core.errors import InvalidInput, NotFound


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _file_expr(path: str, kind: str) -> str:
    return f"read_csv({quote(path)}, auto_detect=true)" if kind == "csv" else f"read_parquet({quote(path)})"


class SourceReader:
    """Reads sources for one DuckDB connection.

    Args:
        blobs: the artifact store (dataset versions' files).
        get_version: ``ref -> DatasetVersion`` (``name`` means the latest).
    """

    def __init__(self, con: Any, blobs: Any, get_version: Callable[[str], Any]) -> None:
        self.con = con
        self.blobs = blobs
        self.get_version = get_version
        self._registered = 0

    def relation(self, source: dict[str, Any], lineage: list[str]) -> str:
        """A parenthesised SQL expression for ``source``; what it read is appended to ``lineage``.

        Raises:
            InvalidInput: a file or folder that does not exist, or a dataset holding no table.
            NotFound: the dataset (version) does not exist.
        """
        if source["type"] == "path":
            return f"(SELECT * FROM {self._path(source['path'], lineage)})"
        if source["type"] == "dataset":
            return f"(SELECT * FROM {self._dataset(source['ref'], lineage)})"
        ctes = ", ".join(f"{ident(alias)} AS {self.relation(inner, lineage)}" for alias, inner in source["inputs"].items())
        return f"(WITH {ctes} {source['query']})"

    def _path(self, path: str, lineage: list[str]) -> str:
        target = Path(path)
        if target.is_dir():
            if not any(target.rglob("*.parquet")):
                raise InvalidInput(f"source folder {path} holds no Parquet files")
            lineage.append(f"file:{target}")
            return f"read_parquet({quote(str(target / '**' / '*.parquet'))}, union_by_name=true)"
        if not target.is_file():
            raise InvalidInput(f"source {path} does not exist")
        if target.suffix not in (".parquet", ".csv"):
            raise InvalidInput(f"source {path} is neither Parquet nor CSV")
        lineage.append(f"file:{target}")
        return _file_expr(str(target), target.suffix[1:])

    def _dataset(self, ref: str, lineage: list[str]) -> str:
        from slipway.data.access import manifest_of
        from slipway.data.tables_light import is_tabular

        version = self.get_version(ref)
        lineage.append(f"dataset_version:{version.ref}")
        tables = [e for e in manifest_of(self.blobs, version).entries if is_tabular(e.path)]
        if not tables:
            raise InvalidInput(f"dataset {version.ref} holds no CSV or Parquet file")
        kinds = {"parquet" if e.path.lower().endswith((".parquet", ".pq")) else "csv" for e in tables}
        if len(kinds) > 1:
            raise InvalidInput(f"dataset {version.ref} mixes CSV and Parquet files; a source reads one kind")
        kind = kinds.pop()
        loose = [self.blobs.file_path(e.digest) if hasattr(self.blobs, "file_path") else None for e in tables]
        if all(loose):
            listing = ", ".join(quote(str(p)) for p in loose)
            return (f"read_csv([{listing}], auto_detect=true, union_by_name=true)" if kind == "csv"
                    else f"read_parquet([{listing}], union_by_name=true)")
        import pyarrow as pa

        from slipway.data.tables import read_table

        table = pa.concat_tables([read_table(self.blobs.read_bytes(e.digest), e.path) for e in tables],
                                 promote_options="default")
        self._registered += 1
        name = f"__slipway_source_{self._registered}"
        self.con.register(name, table)
        return name


def check_source(reader: SourceReader, source: dict[str, Any], columns: list[str], where: str) -> None:
    """The source exists and has ``columns``; InvalidInput (or NotFound for a dataset) otherwise."""
    try:
        relation = reader.relation(source, [])
        found = [row[0] for row in reader.con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    except NotFound as err:
        raise InvalidInput(f"{where}: source {err}") from err
    except InvalidInput as err:
        raise InvalidInput(f"{where}: {err}") from err
    except Exception as err:  # DuckDB's own errors: a bad query, an unreadable file
        raise InvalidInput(f"{where}: cannot read its source: {str(err).splitlines()[0]}") from err
    missing = [c for c in columns if c not in found]
    if missing:
        raise InvalidInput(f"{where}: its source has no column {', '.join(map(repr, missing))}; columns: {found}")
