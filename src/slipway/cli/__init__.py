"""Layer 5: the ``slipway`` command line."""
