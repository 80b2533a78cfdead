"""Layer 4: the inference server."""
