"""The SQL schema, one module per domain, all on one ``MetaData``.

Importing this package imports every schema module in it, so ``metadata`` is complete for
Alembic and for the migration test that compares the two.
"""

import importlib
import pkgutil

from slipway.store.schema.base import metadata

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["metadata"]
