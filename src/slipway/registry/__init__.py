"""Layer 2: registered models, versions and aliases."""
