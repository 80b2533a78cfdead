"""Online stores: the latest value of each feature view per entity, for low-latency lookups.

``base.py`` is the interface; one module per backend (SQLite embedded by default, Redis for
teams), picked by the ``online_store`` setting: empty or ``sqlite:///path`` or ``redis://…``.
"""

from slipway.features.online.base import OnlineStore, open_online_store

__all__ = ["OnlineStore", "open_online_store"]
