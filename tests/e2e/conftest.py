"""Fixtures shared by the CLI tests: the in-process ``slipway`` runner and a repository with a
trained, registered model."""

from tests.e2e.test_cli_data import cli  # noqa: F401
from tests.e2e.test_cli_models import repo  # noqa: F401
