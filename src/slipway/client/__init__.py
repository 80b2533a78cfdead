"""Layer 4: the HTTP transport behind remote mode."""
