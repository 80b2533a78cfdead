"""``slipway import mlflow``: an MLflow tracking store (database or server) and its artifacts."""

from slipway.importers.mlflow.importer import ImportSummary, import_mlflow

__all__ = ["ImportSummary", "import_mlflow"]
