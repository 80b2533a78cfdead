"""The feature store: definitions as code, point-in-time training sets, online serving.

Define entities, feature views, on-demand views and feature services in Python (the classes
below) or YAML in a repository folder; ``slipway features plan|apply FOLDER`` stores them as
versioned definitions. ``ws.features`` builds training sets, materialises views into the online
store and looks features up (see docs/features.md).
"""

from slipway.features.definitions import (
    Entity,
    FeatureService,
    FeatureView,
    OnDemandView,
    Source,
    on_demand_view,
)

__all__ = ["Entity", "FeatureService", "FeatureView", "OnDemandView", "Source", "on_demand_view"]
