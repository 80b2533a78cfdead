"""Layer 4: the platform REST API (FastAPI)."""
