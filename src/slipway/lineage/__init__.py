"""Layer 2: graph queries over the typed lineage edges."""
