"""Identity below the domains: users' signing keys, proof of who made a decision, and who the
embedded mode acts as. Governance, the registry, the transports and ``audit verify`` use it."""
