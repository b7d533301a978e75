"""Domain errors: each carries its meaning and HTTP status; one API handler renders them (RFC 9457)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose. ``detail`` is a sentence an operator can act on."""

    status_code = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class InvalidInput(DomainError):
    status_code = 422
    title = "Invalid input"
    slug = "invalid-input"


class NotFound(DomainError):
    status_code = 404
    title = "Not found"
    slug = "not-found"


class UnknownSerial(NotFound):
    """A serial of this plant's format that no work order has released: there is no unit."""


class Conflict(DomainError):
    status_code = 409
    title = "Conflict"
    slug = "conflict"


class InterlockRefused(Conflict):
    """The route interlock refused a start; ``detail`` says why in plant words."""

    title = "Start refused by the route interlock"
    slug = "interlock-refused"


class NoOpenAttempt(Conflict):
    title = "No open operation to complete"
    slug = "no-open-attempt"


class PayloadTooLarge(DomainError):
    status_code = 413
    title = "Payload too large"
    slug = "payload-too-large"


class NotAuthenticated(DomainError):
    """No valid credential: sign in (pages) or send a bearer token (API)."""

    status_code = 401
    title = "Sign-in required"
    slug = "not-authenticated"


class AccessDenied(DomainError):
    """Signed in, but the role may not do this; ``detail`` names the role and who may."""

    status_code = 403
    title = "Not allowed for this role"
    slug = "forbidden"


class SignatureRefused(DomainError):
    """An electronic signature whose password or PIN did not match: nothing was signed or changed."""

    status_code = 403
    title = "Signature refused"
    slug = "signature-refused"
