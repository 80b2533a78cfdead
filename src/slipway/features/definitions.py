"""Definitions in Python: what a feature repository's ``*.py`` files declare.

Example::

    from slipway.features import Entity, FeatureService, FeatureView, Source, on_demand_view

    customer = Entity("customer", join_keys=["customer_id"])
    stats = FeatureView("customer_stats", entities=[customer], source=Source.path("data/stats.parquet"),
                        timestamp="event_timestamp", ttl="30d",
                        features={"txn_count_7d": "int64", "avg_amount_7d": "float64"}, owner="risk")

    @on_demand_view(sources=[stats], request={"amount": "float64"}, features={"amount_ratio": "float64"})
    def amount_features(df):
        return pd.DataFrame({"amount_ratio": df["amount"] / df["avg_amount_7d"]})

    fraud = FeatureService("fraud", features=[stats, "amount_features"])

Each object only holds its fields; :meth:`spec` gives the plain definition that
:func:`slipway.features.spec.normalise` checks.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import inspect
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def _name_of(item: Any) -> str:
    return item if isinstance(item, str) else str(item.name)


class Source:
    """Where a feature view's rows come from."""

    @staticmethod
    def path(path: str) -> dict[str, Any]:
        """A Parquet or CSV file, or a folder of Parquet files (relative to the repository)."""
        return {"path": path}

    @staticmethod
    def dataset(ref: str) -> dict[str, Any]:
        """A Slipway dataset version ``name@3``, or ``name`` for its latest version when read."""
        return {"dataset": ref}

    @staticmethod
    def sql(query: str, **inputs: dict[str, Any]) -> dict[str, Any]:
        """A DuckDB query over named inputs, e.g. ``Source.sql("SELECT ... FROM tx", tx=Source.dataset("tx"))``."""
        return {"sql": query, "inputs": inputs}


@dataclasses.dataclass
class _Definition:
    name: str
    description: str = dataclasses.field(default="", kw_only=True)
    owner: str = dataclasses.field(default="", kw_only=True)
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict, kw_only=True)

    kind = ""

    def spec(self) -> dict[str, Any]:
        body = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"kind": self.kind, **body}


@dataclasses.dataclass
class Entity(_Definition):
    join_keys: Sequence[str] = ()

    kind = "entity"


@dataclasses.dataclass
class FeatureView(_Definition):
    entities: Sequence[Any] = ()
    source: Any = None
    features: Any = None
    timestamp: str = "event_timestamp"
    created_timestamp: str | None = None
    ttl: str | int | dt.timedelta | None = None
    online: bool = True
    schedule: str | None = None  # cron: ``slipway scheduler`` materialises the view then

    kind = "feature_view"

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "entities": [_name_of(e) for e in self.entities]}


@dataclasses.dataclass
class OnDemandView(_Definition):
    """Features computed from request data and other views by a pandas function, the same code
    at training time and at request time. Define it with :func:`on_demand_view`."""

    function: Callable[[Any], Any] | None = None
    sources: Sequence[Any] = ()
    request: Any = None
    features: Any = None

    kind = "on_demand_view"

    def spec(self) -> dict[str, Any]:
        body = super().spec()
        function = body.pop("function")
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                node.decorator_list = []  # the decorator is not part of the code run later
        return {**body, "sources": [_name_of(s) for s in self.sources], "code": ast.unparse(tree) + "\n",
                "function": function.__name__}


def on_demand_view(*, sources: Sequence[Any] = (), request: Any = None, features: Any = None, name: str | None = None,
                   description: str = "", owner: str = "", tags: Mapping[str, str] | None = None,
                   ) -> Callable[[Callable[[Any], Any]], OnDemandView]:
    """Declare an on-demand view from a function ``(pandas.DataFrame) -> pandas.DataFrame``; the
    frame holds the request columns and the features of ``sources``; ``pd`` and ``np`` are in scope."""

    def wrap(function: Callable[[Any], Any]) -> OnDemandView:
        return OnDemandView(name or function.__name__, function, sources, request, features, description=description,
                            owner=owner, tags=dict(tags or {}))

    return wrap


@dataclasses.dataclass
class FeatureService(_Definition):
    """The named set of features a model uses: views (all their features) or ``VIEW:FEATURE``."""

    features: Sequence[Any] = ()

    kind = "feature_service"

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "features": [_name_of(f) for f in self.features]}
