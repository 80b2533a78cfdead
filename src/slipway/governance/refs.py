"""Model version references for governance: the registry's one parser and resolver.

Governance reads versions through the registry's row helpers, so ``name/3``, ``name/latest``,
``name@alias`` and ``models:/…`` mean the same everywhere.
"""

from __future__ import annotations

from slipway.registry.rows import joined_version_row as version_row
from slipway.registry.rows import resolve_ref as resolve_version

__all__ = ["resolve_version", "version_row"]
