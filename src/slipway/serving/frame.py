"""A request's rows as columns: the one form every protocol decodes to and the batcher merges."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from slipway.core.errors import InvalidInput
from slipway.serving.signature import Signature, column_array


@dataclasses.dataclass(slots=True)
class Frame:
    """Named columns of equal length (``n_rows``), in the model's column order."""

    columns: dict[str, np.ndarray]
    n_rows: int

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame(self.columns, copy=False)


def concat_frames(frames: list[Frame]) -> Frame:
    """One frame holding every row of ``frames`` (which share their columns), in order."""
    if len(frames) == 1:
        return frames[0]
    names = list(frames[0].columns)
    merged = {name: np.concatenate([f.columns[name] for f in frames]) for name in names}
    return Frame(merged, sum(f.n_rows for f in frames))


def frame_from_columns(columns: Mapping[str, object], signature: Signature, what: str = "input") -> Frame:
    """Check named column values against the signature and build a frame.

    Raises:
        InvalidInput: a column is missing, unexpected, of the wrong type, or lengths differ.
    """
    if signature.columns:
        if columns.keys() != signature.kinds.keys():  # the usual request names exactly the model's columns
            missing = [name for name in signature.names if name not in columns]
            if missing:
                raise InvalidInput(f"missing {what} {missing[0]!r}; the model expects {signature.names}")
            extra = [name for name in columns if signature.kind_of(name) is None]
            if extra:
                raise InvalidInput(f"unexpected {what} {extra[0]!r}; the model expects {signature.names}")
        arrays = {c.name: column_array(c.name, c.kind, columns[c.name]) for c in signature.columns}
    else:
        if not columns:
            raise InvalidInput(f"the request has no {what}s")
        arrays = {str(name): column_array(str(name), None, values) for name, values in columns.items()}
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) != 1:
        sizes = {name: len(a) for name, a in arrays.items()}
        raise InvalidInput(f"every {what} must have the same number of rows, got {sizes}")
    n_rows = lengths.pop()
    if n_rows == 0:
        raise InvalidInput("the request has no rows")
    return Frame(arrays, n_rows)


def frame_from_rows(rows: object, signature: Signature) -> Frame:
    """Rows as lists (in the signature's column order) or as objects keyed by column name."""
    if not isinstance(rows, list):
        raise InvalidInput(f"expected a list of rows, got {type(rows).__name__}")
    if not rows:
        raise InvalidInput("the request has no rows")
    first = rows[0]
    if isinstance(first, dict):
        names = signature.names or list(first)
        columns: dict[str, object] = {}
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                raise InvalidInput(f"row {index} is {type(row).__name__}; every row must be an object")
        for name in set().union(*rows) if not signature.columns else names:
            try:
                columns[name] = [row[name] for row in rows]
            except KeyError:
                raise InvalidInput(f"missing input {name!r} in a row; the model expects {names}") from None
        extra = set().union(*rows) - set(names)
        if extra:
            raise InvalidInput(f"unexpected input {sorted(extra)[0]!r}; the model expects {names}")
        return frame_from_columns(columns, signature)
    if isinstance(first, list):
        width = len(signature.names) if signature.columns else len(first)
        for index, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != width:
                got = len(row) if isinstance(row, list) else type(row).__name__
                raise InvalidInput(f"row {index} has {got} values; the model expects {width} ({signature.names})")
        names = signature.names or [str(i) for i in range(width)]
        return frame_from_columns(dict(zip(names, zip(*rows, strict=True), strict=True)), signature)
    if not signature.columns or len(signature.columns) == 1:
        name = signature.names[0] if signature.columns else "0"
        return frame_from_columns({name: rows}, signature)
    raise InvalidInput(f"rows must be lists or objects, got {type(first).__name__}")
