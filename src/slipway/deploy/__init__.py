"""Layer 3: deployments as data: specs, variants, canary state and history."""
