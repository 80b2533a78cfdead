"""Every error a user can see.

The tree::

    SlipwayError (500)
    ├── NotFound (404)
    ├── AlreadyExists (409)
    ├── Conflict (409)
    │   └── LeaseLost (409)           a replica's fencing token is stale: another one took over
    ├── InvalidInput (422)
    │   ├── IntegrityError (422)      a blob or bundle whose bytes do not match its digest
    │   └── PayloadTooLarge (413)     a request body or upload beyond the server's limit
    ├── PermissionDenied (403)
    ├── Unauthenticated (401)
    ├── TooManyAttempts (429)         e.g. wrong passwords: refused untried until ``retry_after_s``
    └── BackendUnavailable (503)

The platform server turns each into a JSON body ``{"error": {"type": ..., "message": ...}}`` with
the class's ``http_status`` (and a ``Retry-After`` header for a 429); the remote client raises the
same class back, so callers catch the same types in embedded and remote mode.
"""

from __future__ import annotations


class SlipwayError(Exception):
    """Root of every error Slipway raises on purpose."""

    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"type": type(self).__name__, "message": self.message}


class NotFound(SlipwayError):
    """The named thing does not exist."""

    http_status = 404


class AlreadyExists(SlipwayError):
    """Creating something whose name is taken."""

    http_status = 409


class Conflict(SlipwayError):
    """The request is valid but clashes with the current state (e.g. a finished run)."""

    http_status = 409


class LeaseLost(Conflict):
    """A replica acted under a lease that has since passed to another replica (slipway.store.leases)."""


class InvalidInput(SlipwayError):
    """The caller sent something malformed: a bad name, a non-numeric metric, a bad filter."""

    http_status = 422


class IntegrityError(InvalidInput):
    """Stored bytes do not match the digest recorded for them."""

    http_status = 422


class PayloadTooLarge(InvalidInput):
    """A request body or upload is larger than the server accepts (it is not read further)."""

    http_status = 413


class PermissionDenied(SlipwayError):
    """The caller is known but its roles do not allow the action."""

    http_status = 403


class Unauthenticated(SlipwayError):
    """No credentials, or credentials that are wrong, expired or revoked."""

    http_status = 401


class TooManyAttempts(SlipwayError):
    """Too many failed attempts (e.g. wrong passwords): refused, untried, for ``retry_after_s``
    seconds (a server sends it as the ``Retry-After`` header)."""

    http_status = 429

    def __init__(self, message: str, retry_after_s: int = 60) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, int(retry_after_s))


class BackendUnavailable(SlipwayError):
    """A store, server or service Slipway needs cannot be reached."""

    http_status = 503


ERRORS_BY_NAME: dict[str, type[SlipwayError]] = {
    cls.__name__: cls
    for cls in (
        SlipwayError,
        NotFound,
        AlreadyExists,
        Conflict,
        LeaseLost,
        InvalidInput,
        IntegrityError,
        PayloadTooLarge,
        PermissionDenied,
        Unauthenticated,
        TooManyAttempts,
        BackendUnavailable,
    )
}


def error_from_dict(body: dict[str, str], status: int) -> SlipwayError:
    """Rebuild the error a server sent (used by the remote client)."""
    cls = ERRORS_BY_NAME.get(body.get("type", ""))
    if cls is None:
        cls = next((c for c in ERRORS_BY_NAME.values() if c.http_status == status), SlipwayError)
    return cls(body.get("message", "unknown error"))
