"""GitOps: a platform folder in Git, planned and applied by ``slipway apply``."""
