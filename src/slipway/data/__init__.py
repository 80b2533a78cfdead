"""Layer 2: datasets and immutable versions, profiles, schemas and validation."""
