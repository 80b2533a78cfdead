"""PostgreSQL roles under which the application cannot rewrite the audit ledger.

Run the migrations as the owner role; run Slipway (the server, workers, the CLI) as an
application role created with these statements: it reads and writes every table, but may only
``SELECT`` and ``INSERT`` audit events, never ``UPDATE``, ``DELETE`` or ``TRUNCATE`` them. A
compromised application host then cannot edit history, only append to it (and checkpoints
published outside the database catch anyone who can, such as the owner).
"""

from __future__ import annotations

import re

from slipway.core.errors import InvalidInput

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def application_role_sql(role: str, database: str) -> list[str]:
    """The statements (run as the owner, after the migrations) that create the application role.

    The role is created without a password; add one (``ALTER ROLE … PASSWORD``) or use your
    platform's authentication.
    """
    for value, what in ((role, "role"), (database, "database")):
        if not _ROLE.match(value):
            raise InvalidInput(f"{what} name {value!r} must be lowercase letters, digits and underscores")
    return [
        f"CREATE ROLE {role} LOGIN",
        f"GRANT CONNECT ON DATABASE {database} TO {role}",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM {role}",
    ]
