"""Passwords and PINs are stored as argon2id hashes (argon2-cffi); never as text, never reversibly."""

from __future__ import annotations

import contextlib
import functools
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.config import SecuritySettings
from app.domain.errors import InvalidInput

_hasher = PasswordHasher()  # argon2id at the library's recommended cost until configure() is called
PIN_PATTERN = re.compile(r"[0-9]{4,8}")
MIN_PASSWORD_LENGTH = 10


def configure(settings: SecuritySettings) -> None:
    """Hash new secrets at the configured argon2id cost (the app and the ``mes`` command call this at start).
    Stored hashes verify at the cost they were made with; a refused sign-in spends one hash of this cost."""
    global _hasher
    wanted = (settings.password_hash_time_cost, settings.password_hash_memory_kib, settings.password_hash_parallelism)
    if wanted == (_hasher.time_cost, _hasher.memory_cost, _hasher.parallelism):
        return
    _hasher = PasswordHasher(time_cost=wanted[0], memory_cost=wanted[1], parallelism=wanted[2])
    _dummy_hash.cache_clear()


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(secret_hash: str | None, secret: str) -> bool:
    """True if ``secret`` matches; a missing or malformed hash never matches.

    Every call costs one argon2 verification, whether or not there is a hash to check against: a
    sign-in that answers faster for a user without a password (or for no user at all) would tell a
    prober which names exist."""
    if not secret_hash:
        _spend_a_verification(secret)
        return False
    try:
        return _hasher.verify(secret_hash, secret)
    except InvalidHashError:
        _spend_a_verification(secret)
        return False
    except VerificationError:
        return False


def needs_rehash(secret_hash: str | None) -> bool:
    """True when a stored hash was made at another cost than the configured one: after a sign-in with the
    right secret, the caller stores a new hash of it (OWASP: upgrade on sign-in)."""
    if not secret_hash:
        return False
    try:
        return _hasher.check_needs_rehash(secret_hash)
    except InvalidHashError:
        return False


def _spend_a_verification(secret: str) -> None:
    with contextlib.suppress(VerificationError, InvalidHashError):
        _hasher.verify(_dummy_hash(), secret)


@functools.cache
def _dummy_hash() -> str:
    """A hash no secret matches, made on first use (not at import: argon2 costs tens of ms)."""
    return _hasher.hash(secrets.token_hex(16))


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip() != password or not password.isprintable():
        raise InvalidInput("a password may not start or end with spaces or contain control characters")


def check_pin_policy(pin: str) -> None:
    if not PIN_PATTERN.fullmatch(pin):
        raise InvalidInput("a badge PIN is 4 to 8 digits")
