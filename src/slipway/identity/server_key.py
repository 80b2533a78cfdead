"""The platform server's own signing key, which proves that a decision came through a server.

A decision made through ``slipway server`` is proved by the bearer token the server checked. The
server records that by signing the decision, with the token's id, with a key of its own: an
Ed25519 private key in ``$SLIPWAY_HOME/server-signing-key`` (0600; created on first start),
whose public key is registered (and audited, ``user.key_add``) to the service account
``slipway-server``, which holds no role. Without it, anyone who can open the store embedded
could record ``{"scheme": "token"}`` in any user's name and ``audit verify`` could not tell.
Several servers over one store each register their own key (or share one home).
"""

from __future__ import annotations

from slipway.core.auth import Principal
from slipway.core.errors import AlreadyExists, InvalidInput
from slipway.identity.keys import FileSigner, generate_key_files
from slipway.identity.registry import key_row, user_row
from slipway.store.context import ServiceContext

SERVER_USER = "slipway-server"
KEY_FILE = "server-signing-key"


def server_signer(ctx: ServiceContext) -> FileSigner:
    """The server's signer, its key created and registered to ``slipway-server`` if needed."""
    from slipway.identity.users import IdentityBackend  # users imports this package's registry

    path = ctx.settings.home / KEY_FILE
    if not path.exists():
        try:
            generate_key_files(path, SERVER_USER)
        except InvalidInput:  # another server process sharing this home made it first
            pass
    signer = FileSigner(path)
    with ctx.db.read() as conn:
        known, registered = user_row(conn, SERVER_USER), key_row(conn, signer.fingerprint)
    if registered is not None and registered.owner == SERVER_USER:
        return signer
    if registered is not None:
        raise InvalidInput(f"the server's key {signer.fingerprint} ({path}) is registered to {registered.owner}, "
                           f"not {SERVER_USER}: give the server a key of its own (delete {path} to make one)")
    system = IdentityBackend(ctx.as_principal(Principal("system", frozenset({"admin"}), "service")))
    try:
        if known is None:
            system.create_user(SERVER_USER, [], kind="service")
        system.add_key(SERVER_USER, signer.public_key)
    except AlreadyExists:  # a replica starting at the same time registered it
        pass
    return signer
