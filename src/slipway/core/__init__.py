"""Layer 0: settings, errors, ids, hashing, clock, records and permissions. Imports nothing of Slipway."""
