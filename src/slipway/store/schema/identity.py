"""Identity: the public keys registered to users, which sign decisions made in embedded mode.

Like Git's signing keys: an admin registers a user's public key; the user keeps the private key in
a file of their own (outside ``SLIPWAY_HOME``). A key is never deleted, only revoked, so an old
signature can still be checked against the key that made it.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text

from slipway.store.schema.base import ID, NAME, id_column, metadata, ms_column

user_keys = Table(
    "user_keys",
    metadata,
    id_column(),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("fingerprint", String(100), nullable=False, unique=True),  # SHA256:<base64>, as ssh-keygen -l
    Column("public_key", Text, nullable=False),  # "ssh-ed25519 AAAA… comment"
    Column("added_by", String(200), nullable=False),
    ms_column("created_ms"),
    ms_column("revoked_ms", nullable=True),
)

# Failed password sign-ins, per user name ("user:<name>", whether or not the user exists) and per
# client address ("address:<ip>"), so every server process over the database throttles alike.
signin_failures = Table(
    "signin_failures",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("failures", Integer, nullable=False),  # in the current window
    ms_column("window_start_ms"),
    Column("lockouts", Integer, nullable=False),  # in a row: each doubles the next lock-out
    ms_column("locked_until_ms", nullable=True),
)

# Projects: the unit a product team owns (slipway.store.projects). ``default`` always exists.
projects = Table(
    "projects",
    metadata,
    Column("name", NAME, primary_key=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_by", NAME, nullable=False),
    ms_column("created_ms"),
)

# Roles held in one project only (a user's global roles stay in ``users.roles``).
role_bindings = Table(
    "role_bindings",
    metadata,
    Column("user_id", ID, ForeignKey("users.id"), primary_key=True),
    Column("role", String(50), primary_key=True),
    Column("project", NAME, ForeignKey("projects.name"), primary_key=True),
    Column("bound_by", NAME, nullable=False),
    ms_column("created_ms"),
)
