"""Step cache keys.

A key is the BLAKE3 digest of: the step's code (its function's syntax tree, so formatting,
comments, the docstring and decorators do not count), its resolved arguments (JSON-able values as
canonical JSON, other values by the digest of their serialised bytes, upstream outputs by their
content digest), the declared ``env`` and any ``cache_key_extra`` state. Artifact names never
enter the key; content does.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from collections.abc import Callable
from typing import Any

import orjson

from slipway.core.hashing import hash_bytes
from slipway.pipelines.serializers import canonical_json, serialize

# Bump when the key's recipe changes, so old entries stop matching.
KEY_FORMAT = 1


@functools.cache
def code_digest(fn: Callable[..., Any]) -> str:
    """A digest of a function's code that ignores formatting, comments, docstring, decorators and its name."""
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        tree = ast.parse(source)
        node = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
        node.decorator_list = []
        node.name = "step"  # the step's name is keyed separately; renaming the function changes nothing
        body = node.body
        first = body[0] if body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            node.body = body[1:] or [ast.Pass()]
        return hash_bytes(ast.dump(node, annotate_fields=False).encode())
    except (OSError, TypeError, SyntaxError, StopIteration):
        # No source (e.g. defined in a REPL): fall back to the bytecode and constants.
        code = fn.__code__
        return hash_bytes(repr((code.co_code, code.co_consts, code.co_names)).encode())


def literal_material(value: Any) -> Any:
    """How a literal argument enters the key: its canonical JSON, or the digest of its bytes."""
    encoded = canonical_json(value)
    if encoded is not None:
        return {"json": encoded.decode()}
    kind, data = serialize(value)
    return {"kind": kind, "digest": hash_bytes(data)}


def compute_key(step_name: str, fn: Callable[..., Any], arguments: dict[str, Any], env: dict[str, Any],
                extra: Any = None) -> str:
    """The cache key of one step call; ``arguments`` already hold key material (see executor)."""
    payload = {
        "format": KEY_FORMAT, "step": step_name, "code": code_digest(fn), "arguments": arguments,
        "env": env, "extra": extra,
    }
    return hash_bytes(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY))
