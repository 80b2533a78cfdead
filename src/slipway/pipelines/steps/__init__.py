"""Built-in steps for the common loop: validate data → evaluate and bless → register → request
approval → deploy. Each runs in the driving process (it uses the workspace); the platform records
their lineage from what they read and what the platform's APIs created while they ran."""

from slipway.pipelines.steps.data import validate_data
from slipway.pipelines.steps.deploy import deploy_model
from slipway.pipelines.steps.evaluate import evaluate_and_bless
from slipway.pipelines.steps.registry import register_model, request_approval

__all__ = ["deploy_model", "evaluate_and_bless", "register_model", "request_approval", "validate_data"]
