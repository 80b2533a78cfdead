"""Users, service accounts and API tokens.

Tokens are random 32-byte secrets shown once; only their SHA-256 is stored (a fast hash is right
for high-entropy secrets: there is nothing to brute-force).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TypedDict

import orjson
from sqlalchemy import Connection, select

from slipway.core.auth import ROLES, Principal, endpoint
from slipway.core.clock import now_ms
from slipway.core.errors import AlreadyExists, Conflict, InvalidInput, NotFound, Unauthenticated
from slipway.core.events import Action, Subject
from slipway.core.ids import new_id
from slipway.core.names import check_name
from slipway.core.records import record
from slipway.identity.backend_keys import KeyEndpoints
from slipway.identity.passwords import PasswordEndpoints
from slipway.identity.projects import ProjectEndpoints, project_bindings
from slipway.identity.revocations import access_changed
from slipway.store.context import ServiceContext
from slipway.store.database import Database
from slipway.store.projects import ProjectScope, scoped_by
from slipway.store.schema.core import api_tokens, users

TOKEN_PREFIX = "slw_"


class Caller(TypedDict):
    """Who is calling (``whoami``): the user or service account, its global roles, its kind and
    its per-project roles (``[project, role]`` pairs)."""

    name: str
    roles: list[str]
    kind: str
    bindings: list[list[str]]


@record
class User:
    id: str
    name: str
    kind: str
    roles: list[str]
    disabled: bool
    created_ms: int


@record
class TokenInfo:
    id: str
    user: str
    prefix: str
    description: str
    created_ms: int
    expires_ms: int | None
    revoked_ms: int | None


@record
class IssuedToken:
    """A new token; ``token`` is the secret and is never shown again."""

    info: TokenInfo
    token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_roles(roles: list[str]) -> list[str]:
    """Known roles, sorted; an empty list is a user with roles only in projects (``bind``)."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise InvalidInput(f"unknown roles {unknown}; choose from {', '.join(ROLES)}")
    return sorted(set(roles))


def _user_from_row(row: object) -> User:
    return User(row.id, row.name, row.kind, orjson.loads(row.roles), bool(row.disabled), row.created_ms)  # type: ignore[attr-defined]


def find_user(conn: Connection, name: str) -> User | None:
    row = conn.execute(select(users).where(users.c.name == name)).first()
    return _user_from_row(row) if row else None


def keep_an_admin(conn: Connection, user: User, roles: list[str], disabled: bool) -> None:
    """Refuse a change to ``user`` that would leave no enabled admin: nobody could then manage users,
    roles or tokens over the API (a fuzzer's admin once disabled itself, and with it the server).

    Raises:
        Conflict: ``user`` is the last enabled admin and would be disabled or lose the role.
    """
    if "admin" not in user.roles or user.disabled or ("admin" in roles and not disabled):
        return
    others = conn.execute(select(users.c.roles).where(users.c.name != user.name, users.c.disabled.is_(False)))
    if not any("admin" in orjson.loads(row.roles) for row in others):
        raise Conflict(f"{user.name!r} is the last enabled admin; make another user admin first")


def authenticate(db: Database, token: str) -> Principal:
    """The principal a bearer token belongs to; Unauthenticated if unknown, expired or revoked."""
    if not token.startswith(TOKEN_PREFIX):
        raise Unauthenticated("the token is malformed; Slipway tokens start with 'slw_'")
    with db.read() as conn:
        row = conn.execute(
            select(api_tokens.c.id.label("token_id"), api_tokens.c.expires_ms, api_tokens.c.revoked_ms, users.c.id, users.c.name, users.c.roles, users.c.kind,
                   users.c.disabled)
            .join(users, users.c.id == api_tokens.c.user_id)
            .where(api_tokens.c.token_hash == hash_token(token))
        ).first()
        bindings = project_bindings(conn, row.id) if row is not None else ()
    if row is None:
        raise Unauthenticated("the token is not valid")
    if row.revoked_ms is not None:
        raise Unauthenticated("the token was revoked")
    if row.expires_ms is not None and row.expires_ms < now_ms():
        raise Unauthenticated("the token has expired")
    if row.disabled:
        raise Unauthenticated(f"user {row.name} is disabled")
    return Principal(row.name, frozenset(orjson.loads(row.roles)), row.kind, bindings, token_id=row.token_id)


class IdentityBackend(KeyEndpoints, PasswordEndpoints, ProjectEndpoints):
    # Scoped principals (roles in some projects only) may ask who they are, list users and
    # projects, and manage the bindings of a project they administer; the rest needs a global role.
    _projects_of = scoped_by(ProjectScope({}, open=frozenset({"whoami", "list_users", "list_projects", "bindings"})))

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @endpoint("admin")
    def create_user(self, name: str, roles: list[str], kind: str = "user", email: str | None = None) -> User:
        check_name(name, "user name")
        if kind not in ("user", "service"):
            raise InvalidInput(f"kind must be 'user' or 'service', not {kind!r}")
        roles = _check_roles(list(roles))
        with self.ctx.db.write() as conn:
            if find_user(conn, name):
                raise AlreadyExists(f"user {name!r} already exists")
            user = User(new_id(), name, kind, roles, False, now_ms())
            conn.execute(users.insert().values(id=user.id, name=name, kind=kind, roles=orjson.dumps(roles).decode(),
                                               email=email, disabled=False, created_ms=user.created_ms))
            self.ctx.audit(conn, Action.USER_CREATE, Subject.USER, name, {"roles": roles, "kind": kind})
            return user

    @endpoint("admin")
    def set_roles(self, name: str, roles: list[str]) -> User:
        """Replace a user's roles.

        Raises:
            Conflict: the user is the last enabled admin and ``roles`` lacks admin.
        """
        roles = _check_roles(list(roles))
        with self.ctx.db.write() as conn:
            user = find_user(conn, name)
            if not user:
                raise NotFound(f"user {name!r} does not exist")
            keep_an_admin(conn, user, roles, user.disabled)
            conn.execute(users.update().where(users.c.name == name).values(roles=orjson.dumps(roles).decode()))
            self.ctx.audit(conn, Action.USER_SET_ROLES, Subject.USER, name, {"roles": roles})
            found = find_user(conn, name)
        access_changed()
        return found  # type: ignore[return-value]

    @endpoint("admin")
    def set_disabled(self, name: str, disabled: bool) -> User:
        """Disable (offboard) or re-enable a user: a disabled user's tokens stop working and, in
        embedded mode, it acts with no roles.

        Raises:
            Conflict: the user is the last enabled admin (make another user admin first).
        """
        with self.ctx.db.write() as conn:
            user = find_user(conn, name)
            if not user:
                raise NotFound(f"user {name!r} does not exist")
            keep_an_admin(conn, user, user.roles, bool(disabled))
            conn.execute(users.update().where(users.c.name == name).values(disabled=bool(disabled)))
            self.ctx.audit(conn, Action.USER_DISABLE if disabled else Action.USER_ENABLE, Subject.USER, name, {})
            found = find_user(conn, name)
        access_changed()
        return found  # type: ignore[return-value]

    @endpoint("read")
    def list_users(self) -> list[User]:
        with self.ctx.db.read() as conn:
            return [_user_from_row(r) for r in conn.execute(select(users).order_by(users.c.name))]

    @endpoint("read")
    def whoami(self) -> Caller:
        p = self.ctx.principal
        return {"name": p.name, "roles": sorted(p.roles), "kind": p.kind, "bindings": [list(b) for b in p.bindings]}

    @endpoint("admin")
    def create_token(self, user: str, description: str = "", expires_in_days: float | None = None) -> IssuedToken:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires = None if expires_in_days is None else now_ms() + int(float(expires_in_days) * 86_400_000)
        with self.ctx.db.write() as conn:
            found = find_user(conn, user)
            if found is None:
                raise NotFound(f"user {user!r} does not exist")
            info = TokenInfo(new_id(), user, token[:10], description[:300], now_ms(), expires, None)
            conn.execute(api_tokens.insert().values(
                id=info.id, user_id=found.id, token_hash=hash_token(token), prefix=info.prefix,
                description=info.description, created_ms=info.created_ms, expires_ms=expires))
            self.ctx.audit(conn, Action.TOKEN_CREATE, Subject.USER, user, {"token_id": info.id, "expires_ms": expires})
        return IssuedToken(info, token)

    @endpoint("admin")
    def revoke_token(self, token_id: str) -> TokenInfo:
        with self.ctx.db.write() as conn:
            row = conn.execute(select(api_tokens, users.c.name).join(users, users.c.id == api_tokens.c.user_id)
                               .where(api_tokens.c.id == token_id)).first()
            if row is None:
                raise NotFound(f"token {token_id!r} does not exist")
            revoked = row.revoked_ms or now_ms()
            conn.execute(api_tokens.update().where(api_tokens.c.id == token_id).values(revoked_ms=revoked))
            self.ctx.audit(conn, Action.TOKEN_REVOKE, Subject.USER, row.name, {"token_id": token_id})
        access_changed()
        return TokenInfo(row.id, row.name, row.prefix, row.description, row.created_ms, row.expires_ms, revoked)

    @endpoint("admin")
    def list_tokens(self, user: str | None = None) -> list[TokenInfo]:
        query = select(api_tokens, users.c.name).join(users, users.c.id == api_tokens.c.user_id)
        if user:
            query = query.where(users.c.name == user)
        with self.ctx.db.read() as conn:
            return [TokenInfo(r.id, r.name, r.prefix, r.description, r.created_ms, r.expires_ms, r.revoked_ms)
                    for r in conn.execute(query.order_by(api_tokens.c.created_ms))]


def ensure_bootstrap_admin(ctx: ServiceContext, token: str | None) -> str | None:
    """Make sure an ``admin`` user exists with a token; return a new token if one was minted.

    With ``token`` given (``SLIPWAY_BOOTSTRAP_TOKEN``), that exact token is registered for admin.
    """
    backend = IdentityBackend(ctx.as_principal(Principal("system", frozenset({"admin"}))))
    with ctx.db.read() as conn:
        admin = find_user(conn, "admin")
    if admin is None:
        try:
            backend.create_user("admin", ["admin"])
        except AlreadyExists:
            pass
    if token:
        if not token.startswith(TOKEN_PREFIX):
            raise InvalidInput("the bootstrap token must start with 'slw_'")
        with ctx.db.write() as conn:
            exists = conn.execute(select(api_tokens.c.id).where(api_tokens.c.token_hash == hash_token(token))).first()
            if not exists:
                admin_row = find_user(conn, "admin")
                assert admin_row is not None
                token_id = new_id()
                conn.execute(api_tokens.insert().values(
                    id=token_id, user_id=admin_row.id, token_hash=hash_token(token), prefix=token[:10],
                    description="bootstrap", created_ms=now_ms()))
                ctx.audit(conn, Action.TOKEN_CREATE, Subject.USER, "admin",
                          {"description": "bootstrap", "token_id": token_id, "expires_ms": None})
        return None
    if backend.list_tokens("admin"):
        return None
    return backend.create_token("admin", "bootstrap").token
