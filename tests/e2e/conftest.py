"""Fixtures shared by the CLI tests: a repository with a trained, registered model (the in-process
``slipway`` runner, ``cli``, comes from tests/conftest.py)."""

from tests.e2e.test_cli_models import repo  # noqa: F401
