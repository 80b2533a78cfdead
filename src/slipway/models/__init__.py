"""Layer 2: model bundles, flavors and predictors."""
