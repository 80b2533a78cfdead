"""The run search language: MLflow's ``search_runs`` filter syntax plus ``or`` and parentheses.

A filter is comparisons joined by ``and``/``or`` (``and`` binds tighter), grouped with
parentheses::

    metrics.auc > 0.9 and (params.model = 'rf' or tags.team IN ('risk', 'ops'))
    attributes.run_name LIKE 'fit%' and metrics.`f1 score` >= 0.5

An identifier is ``<entity>.<key>``: ``metrics``, ``params``, ``tags``, ``attributes`` (or
``datasets``; the entity may be backquoted, `` `metric`.a ``), with the key bare, backquoted or
quoted. A bare name (``status``) is an attribute; ``tags.mlflow.runName`` (MLflow's run-name tag)
is the run name. String values are literal: a backslash is an ordinary character, as in MLflow;
only a doubled quote (``'it''s'``) stands for the quote. This module only parses; :mod:`slipway.tracking.search_sql` compiles the tree to SQL.
Syntax errors raise :class:`InvalidInput` naming the character position.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Union

from slipway.core.errors import InvalidInput

ENTITY_ALIASES = {
    "metric": "metrics", "metrics": "metrics",
    "param": "params", "params": "params", "parameter": "params", "parameters": "params",
    "tag": "tags", "tags": "tags",
    "attribute": "attributes", "attributes": "attributes", "attr": "attributes", "run": "attributes",
    "dataset": "datasets", "datasets": "datasets",
}
# MLflow's attribute names (and a few natural synonyms) -> the canonical name search_sql knows.
ATTRIBUTES = {
    "run_id": "run_id", "id": "run_id",
    "run_name": "run_name", "name": "run_name", "run name": "run_name",
    "status": "status",
    "start_time": "start_time", "created": "start_time", "start_ms": "start_time",
    "end_time": "end_time", "end_ms": "end_time",
    "user_id": "user", "user": "user",
    "experiment_id": "experiment_id",
    "parent_id": "parent_id", "parent_run_id": "parent_id",
    "lifecycle_stage": "lifecycle", "lifecycle": "lifecycle",
    "git_commit": "git_commit", "source": "source",
}
NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time"})
DATASET_FIELDS = {"name": "dataset", "digest": "digest", "context": "context", "version": "version"}
COMPARATORS = ("=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL")
ORDERING = frozenset({"<", "<=", ">", ">="})
# MLflow stores a run's name as this tag too, so its users filter and sort on it.
RUN_NAME_TAG = "mlflow.runName"
_NO_ARTIFACT_URI = (
    "attributes.artifact_uri does not exist in Slipway: a run has no artifact folder, each artifact is a "
    "content-addressed blob (list them with list_artifacts, or search on datasets.digest for inputs)"
)

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_]))
  | (?P<str>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
  | (?P<bq>`[^`]*`)
  | (?P<op><=|>=|!=|<>|==|=|<|>)
  | (?P<lp>\()
  | (?P<rp>\))
  | (?P<comma>,)
  | (?P<dot>\.)
  | (?P<word>[A-Za-z_][A-Za-z0-9_\-/:]*)
    """,
    re.VERBOSE,
)


@dataclasses.dataclass(frozen=True)
class Token:
    kind: str  # num | str | bq | op | lp | rp | comma | dot | word | end
    text: str
    pos: int


@dataclasses.dataclass(frozen=True)
class Comparison:
    """``<entity>.<key> <op> <value>``; ``value`` is a str, a float, a tuple for IN, None for IS NULL."""

    entity: str  # metrics | params | tags | attributes | datasets
    key: str
    op: str
    value: str | float | tuple[str | float, ...] | None
    pos: int


@dataclasses.dataclass(frozen=True)
class BoolOp:
    op: str  # and | or
    items: tuple[Node, ...]


Node = Union[Comparison, BoolOp]  # noqa: UP007 - a runtime alias used before 3.12's `type`


@dataclasses.dataclass(frozen=True)
class OrderKey:
    entity: str
    key: str
    descending: bool


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; an unknown character is an error naming its position."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise InvalidInput(f"filter syntax error at position {pos}: unexpected {text[pos]!r} in {text!r}")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _unquote(token: Token) -> str:
    """A quoted token's text. Backslashes stay as they are (MLflow keeps them too: ``'C:\\temp'``
    is ``C:\\temp``, and ``'%\\%%'`` is a LIKE pattern holding a backslash); a doubled quote is one."""
    body = token.text[1:-1]
    if token.kind == "bq":
        return body
    quote = token.text[0]
    return body.replace(quote * 2, quote)


def _strip_backquotes(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "`" else text


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def error(self, message: str, token: Token | None = None) -> InvalidInput:
        token = token or self.current
        found = "the end of the filter" if token.kind == "end" else repr(token.text)
        return InvalidInput(f"filter syntax error at position {token.pos}: {message}, found {found} in {self.text!r}")

    def advance(self) -> Token:
        token = self.current
        self.index += 1
        return token

    def keyword(self, *words: str) -> bool:
        return self.current.kind == "word" and self.current.text.upper() in words

    def parse(self) -> Node | None:
        if self.current.kind == "end":
            return None
        node = self.parse_or()
        if self.current.kind != "end":
            raise self.error("expected 'and', 'or' or the end")
        return node

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.keyword("OR"):
            self.advance()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def parse_and(self) -> Node:
        items = [self.parse_atom()]
        while self.keyword("AND"):
            self.advance()
            items.append(self.parse_atom())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def parse_atom(self) -> Node:
        if self.current.kind == "lp":
            self.advance()
            node = self.parse_or()
            if self.current.kind != "rp":
                raise self.error("expected ')'")
            self.advance()
            return node
        return self.parse_comparison()

    def parse_identifier(self) -> tuple[str, str, int]:
        start = self.current
        if start.kind not in ("word", "bq"):
            raise self.error("expected an identifier such as metrics.auc, params.model or attributes.status")
        self.advance()
        word = _unquote(start) if start.kind == "bq" else start.text
        if self.current.kind != "dot":
            if start.kind == "bq":
                raise self.error(f"expected '.' and a key after the entity {start.text}")
            name = ATTRIBUTES.get(word.lower())
            if name is None:
                raise self.error(f"unknown attribute {word!r}; prefix keys with metrics., params. or tags.", start)
            return "attributes", name, start.pos
        entity = ENTITY_ALIASES.get(word.lower())
        if entity is None:
            raise self.error(f"unknown entity {word!r}; use metrics, params, tags, attributes or datasets", start)
        self.advance()
        key = self.parse_key()
        if entity == "tags" and key == RUN_NAME_TAG:
            return "attributes", "run_name", start.pos
        if entity == "attributes":
            if key.lower() == "artifact_uri":
                raise InvalidInput(f"{_NO_ARTIFACT_URI} (at position {start.pos} in {self.text!r})")
            name = ATTRIBUTES.get(key.lower())
            if name is None:
                raise self.error(f"unknown attribute {key!r}; known: {', '.join(sorted(set(ATTRIBUTES)))}", start)
            key = name
        elif entity == "datasets":
            if key.lower() not in DATASET_FIELDS:
                raise self.error(f"unknown dataset field {key!r}; use name, digest, context or version", start)
            key = DATASET_FIELDS[key.lower()]
        return entity, key, start.pos

    def parse_key(self) -> str:
        token = self.current
        if token.kind in ("bq", "str"):
            self.advance()
            # MLflow strips quotes, then backquotes: params."`a b`" is the key 'a b' too.
            key = _strip_backquotes(_unquote(token))
            if not key:
                raise self.error("empty key", token)
            return key
        if token.kind != "word":
            raise self.error("expected a key after '.'")
        parts = [self.advance().text]
        # A bare key may itself hold dots (params.optimizer.lr), as in MLflow.
        while self.current.kind == "dot" and self.tokens[self.index + 1].kind in ("word", "num"):
            self.advance()
            parts.append(self.advance().text.lstrip("+-"))
        return ".".join(parts)

    def parse_operator(self) -> str:
        token = self.current
        if token.kind == "op":
            self.advance()
            return {"==": "=", "<>": "!="}.get(token.text, token.text)
        if self.keyword("LIKE", "ILIKE", "IN"):
            return self.advance().text.upper()
        if self.keyword("IS"):
            self.advance()
            negate = self.keyword("NOT")
            if negate:
                self.advance()
            if not self.keyword("NULL"):
                raise self.error("expected NULL or NOT NULL after IS")
            self.advance()
            return "IS NOT NULL" if negate else "IS NULL"
        if self.keyword("NOT"):
            self.advance()
            if self.keyword("IN", "LIKE", "ILIKE"):
                return "NOT " + self.advance().text.upper()
            raise self.error("expected IN, LIKE or ILIKE after NOT")
        raise self.error("expected a comparison (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, IS NULL)")

    def parse_value(self) -> str | float:
        token = self.current
        if token.kind == "str":
            self.advance()
            return _unquote(token)
        if token.kind == "num":
            self.advance()
            return float(token.text)
        if token.kind == "word":
            raise self.error(f"expected a value; quote text, as in '{token.text}'")
        raise self.error("expected a value (a 'quoted string' or a number)")

    def parse_comparison(self) -> Comparison:
        entity, key, pos = self.parse_identifier()
        op = self.parse_operator()
        if op in ("IS NULL", "IS NOT NULL"):
            return _checked(Comparison(entity, key, op, None, pos), self.text)
        if op in ("IN", "NOT IN"):
            if self.current.kind != "lp":
                raise self.error(f"expected '(' after {op}")
            self.advance()
            values = [self.parse_value()]
            while self.current.kind == "comma":
                self.advance()
                values.append(self.parse_value())
            if self.current.kind != "rp":
                raise self.error("expected ',' or ')' in the value list")
            self.advance()
            return _checked(Comparison(entity, key, op, tuple(values), pos), self.text)
        return _checked(Comparison(entity, key, op, self.parse_value(), pos), self.text)


def _checked(comp: Comparison, text: str) -> Comparison:
    """Refuse comparisons that parse but mean nothing (a metric LIKE, a param > 3, a status < 'x')."""
    numeric = comp.entity == "metrics" or (comp.entity == "attributes" and comp.key in NUMERIC_ATTRIBUTES)
    values = comp.value if isinstance(comp.value, tuple) else (comp.value,)
    where = f"at position {comp.pos} in {text!r}"
    label = f"{comp.entity}.{'name' if comp.key == 'dataset' else comp.key}"
    if comp.value is None:
        if comp.entity == "datasets":
            raise InvalidInput(f"{label} cannot use {comp.op}: dataset fields are never missing, a run either "
                               f"logged such an input or not ({where})")
        return comp
    if numeric:
        if comp.op in ("LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"):
            raise InvalidInput(f"{label} is numeric and cannot use {comp.op} ({where})")
        if any(isinstance(v, str) for v in values):
            raise InvalidInput(f"{label} is compared with a number, not a string ({where})")
    else:
        if comp.entity == "datasets" and comp.key == "version":
            return comp
        if any(not isinstance(v, str) for v in values):
            raise InvalidInput(f"{label} holds text: quote the value, e.g. {label} = '3' ({where})")
        if comp.op in ORDERING:
            # Params, tags, text attributes and dataset fields are strings; MLflow refuses ordering
            # comparisons on them too (an alphabetical status < 'x' is never what was meant).
            raise InvalidInput(f"{label} is text and cannot use {comp.op}; use =, !=, LIKE, ILIKE or IN ({where})")
    return comp


def parse_filter(text: str | None) -> Node | None:
    """The syntax tree of a filter, or None for an empty filter."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidInput(f"a filter is a string, got {type(text).__name__} {text!r}")
    return _Parser(text).parse()


def parse_order_by(items: list[str] | tuple[str, ...] | str | None) -> list[OrderKey]:
    """``["metrics.auc DESC", "attributes.start_time"]`` -> order keys (ascending by default)."""
    if items is None:
        return []
    if isinstance(items, str):
        items = [items]
    keys: list[OrderKey] = []
    seen: dict[tuple[str, str], str] = {}
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise InvalidInput(f"an order_by item is 'entity.key [ASC|DESC]', got {item!r}")
        parser = _Parser(item)
        entity, key, _ = parser.parse_identifier()
        descending = False
        if parser.keyword("ASC", "DESC"):
            descending = parser.advance().text.upper() == "DESC"
        if parser.current.kind != "end":
            raise parser.error("expected ASC, DESC or the end of the order_by item")
        if (entity, key) in seen:
            # A second key on the same column either repeats the first or contradicts it.
            raise InvalidInput(f"order_by names {entity}.{key} twice ({seen[(entity, key)]!r} and {item!r}); "
                               "give each column once")
        seen[(entity, key)] = item
        keys.append(OrderKey(entity, key, descending))
    return keys
