"""Identity below the domains: users, service accounts, roles and API tokens (:mod:`.users`,
``ws.identity``), bearer-token authentication for both servers (:mod:`.authenticator`), users'
signing keys, proof of who made a decision, and who the embedded mode acts as. Governance, the
registry, the transports and ``audit verify`` use it."""
