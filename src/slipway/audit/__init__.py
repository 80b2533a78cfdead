"""Layer 2: reading and verifying the audit ledger (appending lives in ``slipway.store.ledger``)."""
