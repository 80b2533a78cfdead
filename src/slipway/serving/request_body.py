"""An inference request's body, read off the ASGI interface: the size limit (before and while
reading), ``Content-Encoding: gzip``, the binary tensor extension's split, then JSON or CSV.

Errors are the caller's: :class:`TooLarge` (413), :class:`UnsupportedMedia` (415),
``InvalidInput`` (400), or ``ClientDisconnect`` when the client went away mid-body.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import zlib
from typing import Any

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope

from slipway.core.errors import InvalidInput
from slipway.serving.protocol_v2 import inline_binary_inputs


class TooLarge(Exception):
    """The body is over ``max_body_bytes`` (answered 413)."""


class UnsupportedMedia(Exception):
    """A ``Content-Encoding`` the server does not decode (answered 415)."""


@dataclasses.dataclass(frozen=True, slots=True)
class CsvTable:
    """A ``text/csv`` body: its header row and its data rows, as text."""

    columns: list[str]
    rows: list[list[str]]


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower case, as ASGI servers give header names)."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def ascii_length(value: str | None) -> int | None:
    """A length header's value as an int; None unless it is ASCII digits only (``"²".isdigit()``
    is true, but ``int("²")`` raises)."""
    if value is None or not value or not value.isascii() or not value.isdigit():
        return None
    return int(value)


async def read_raw(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The body's bytes, refused as soon as they are over ``limit`` (413), decoded when gzipped.

    Raises:
        TooLarge: the declared or received (or decompressed) body is over ``limit``.
        UnsupportedMedia: a ``Content-Encoding`` other than gzip or identity.
        InvalidInput: a gzip body that does not decompress.
        ClientDisconnect: the client went away before sending all of it.
    """
    declared = ascii_length(header(scope, b"content-length"))
    if declared is not None and declared > limit:
        raise TooLarge(f"the request body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the request body is over {limit} bytes; the limit is {limit}")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    encoding = header(scope, b"content-encoding")
    if encoding is not None:
        raw = _decode(raw, encoding.strip().lower(), limit)
    return raw


def _decode(raw: bytes, encoding: str, limit: int) -> bytes:
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise UnsupportedMedia(f"Content-Encoding {encoding!r} is not supported; send gzip or no encoding")
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(raw, limit + 1)  # never more than the limit in memory
    except zlib.error as err:
        raise InvalidInput(f"the request body is not valid gzip: {err}") from err
    if len(out) > limit or inflater.unconsumed_tail:
        raise TooLarge(f"the request body is over {limit} bytes once decompressed; the limit is {limit}")
    return out


def parse(raw: bytes, scope: Scope, binary: bool = False, csv_allowed: bool = False) -> Any:
    """The body as JSON (with the binary tensor part moved into the inputs, for v2 ``/infer``), or
    a :class:`CsvTable` for a ``text/csv`` body where ``csv_allowed`` (MLflow ``/invocations``).

    Raises:
        InvalidInput: not valid JSON or CSV, or the binary part does not match the inputs.
    """
    if csv_allowed:
        content_type = header(scope, b"content-type")
        if content_type is not None and content_type.split(";", 1)[0].strip().lower() == "text/csv":
            return parse_csv(raw)
    json_length_text = header(scope, b"inference-header-content-length") if binary else None
    tensors = b""
    if json_length_text is not None:
        json_length = ascii_length(json_length_text)
        if json_length is None or json_length > len(raw):
            raise InvalidInput(f"Inference-Header-Content-Length is {json_length_text!r}, but the body has "
                               f"{len(raw)} bytes")
        raw, tensors = raw[:json_length], raw[json_length:]
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise InvalidInput(f"the request body is not valid JSON: {err}") from err
    if json_length_text is not None:
        inline_binary_inputs(body, tensors)
    return body


def parse_csv(raw: bytes) -> CsvTable:
    """A CSV body with a header row (as pandas.read_csv reads what MLflow's server is sent).

    Raises:
        InvalidInput: not UTF-8, no header, a duplicated column, or a row of the wrong width.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InvalidInput(f"the CSV body is not UTF-8 text: {err}") from err
    try:
        lines = [row for row in csv.reader(io.StringIO(text)) if row]
    except csv.Error as err:
        raise InvalidInput(f"the CSV body cannot be read: {err}") from err
    if not lines:
        raise InvalidInput("the CSV body is empty; send a header row and one row per prediction")
    columns, rows = lines[0], lines[1:]
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise InvalidInput(f"column {name!r} appears twice in the CSV header")
        seen.add(name)
    for index, row in enumerate(rows):
        if len(row) != len(columns):
            raise InvalidInput(f"CSV row {index + 1} has {len(row)} values; the header has {len(columns)}")
    return CsvTable(columns, rows)
