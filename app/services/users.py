"""Users, sign-in, lockout, page sessions, API tokens and the re-entry of a secret for an e-signature.

Raw tokens are 256-bit random strings shown once; the database keeps their SHA-256 only. Every
failed password or PIN (at sign-in or when signing) counts toward the lockout.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.config import SecuritySettings
from app.domain.actors import Actor, Role
from app.domain.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, SignatureRefused
from app.persistence import models as m
from app.security import passwords
from app.services import audit
from app.services.clock import utcnow

TOKEN_BYTES = 32


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def actor_of(user: m.AppUser) -> Actor:
    return Actor(username=user.username, role=Role(user.role), user_id=user.id, display_name=user.display_name)


def _user_view(user: m.AppUser) -> dict[str, Any]:
    """What the audit trail records of a user: never a hash."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "badge_id": user.badge_id,
        "active": user.active,
        "has_password": user.password_hash is not None,
        "has_pin": user.pin_hash is not None,
    }


def create_user(
    *,
    session: Session,
    actor: Actor,
    username: str,
    display_name: str,
    role: Role,
    password: str | None = None,
    badge_id: str | None = None,
    pin: str | None = None,
) -> m.AppUser:
    """A new user. Operators may sign in by badge + PIN; everyone else needs a password."""
    if password is None and pin is None:
        raise InvalidInput("a user needs a password, or a badge id and PIN")
    if pin is not None and badge_id is None:
        raise InvalidInput("a PIN is only used with a badge id")
    if role is not Role.OPERATOR and password is None:
        raise InvalidInput(f"a {role.value} signs in with a password; give one")
    if password is not None:
        passwords.check_password_policy(password)
    if pin is not None:
        passwords.check_pin_policy(pin)
    if session.scalar(select(m.AppUser.id).where(m.AppUser.username == username)) is not None:
        raise Conflict(f"user {username} already exists")
    if badge_id is not None and session.scalar(select(m.AppUser.id).where(m.AppUser.badge_id == badge_id)):
        raise Conflict(f"badge {badge_id} already belongs to another user")
    user = m.AppUser(
        username=username,
        display_name=display_name,
        role=role.value,
        password_hash=passwords.hash_secret(password) if password is not None else None,
        badge_id=badge_id,
        pin_hash=passwords.hash_secret(pin) if pin is not None else None,
        active=True,
        failed_attempts=0,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="user.create",
        entity_type="user",
        entity_id=username,
        before=None,
        after=_user_view(user),
        reason=None,
    )
    return user


@dataclass(frozen=True, slots=True)
class UserChange:
    display_name: str | None = None
    role: Role | None = None
    active: bool | None = None
    password: str | None = None
    badge_id: str | None = None
    pin: str | None = None


def change_user(*, session: Session, actor: Actor, username: str, change: UserChange, reason: str) -> m.AppUser:
    """Change a user's role, status or secrets. Deactivating a user or changing a secret revokes their tokens."""
    user = user_by_name(session=session, username=username, for_update=True)
    before = _user_view(user)
    if change.display_name is not None:
        user.display_name = change.display_name
    if change.role is not None:
        user.role = change.role.value
    if change.badge_id is not None:
        user.badge_id = change.badge_id or None
    if change.password is not None:
        passwords.check_password_policy(change.password)
        user.password_hash = passwords.hash_secret(change.password)
    if change.pin is not None:
        passwords.check_pin_policy(change.pin)
        if user.badge_id is None:
            raise InvalidInput("a PIN is only used with a badge id")
        user.pin_hash = passwords.hash_secret(change.pin)
    if change.active is not None:
        user.active = change.active
    if Role(user.role) is not Role.OPERATOR and user.password_hash is None:
        raise InvalidInput(f"a {user.role} signs in with a password; give one")
    if change.active is False or change.password is not None or change.pin is not None or change.role is not None:
        revoke_all_tokens(session=session, user_id=user.id)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="user.change",
        entity_type="user",
        entity_id=username,
        before=before,
        after=_user_view(user),
        reason=reason,
    )
    return user


def unlock_user(*, session: Session, actor: Actor, username: str, reason: str) -> m.AppUser:
    user = user_by_name(session=session, username=username, for_update=True)
    before = {"failed_attempts": user.failed_attempts, "locked_until": _iso(user.locked_until)}
    user.failed_attempts, user.locked_until = 0, None
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="user.unlock",
        entity_type="user",
        entity_id=username,
        before=before,
        after={"failed_attempts": 0, "locked_until": None},
        reason=reason,
    )
    return user


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def user_by_name(*, session: Session, username: str, for_update: bool = False) -> m.AppUser:
    query = select(m.AppUser).where(m.AppUser.username == username)
    user = session.scalars(query.with_for_update() if for_update else query).one_or_none()
    if user is None:
        raise NotFound(f"user {username} does not exist")
    return user


def list_users(*, session: Session) -> list[m.AppUser]:
    return list(session.scalars(select(m.AppUser).order_by(m.AppUser.username)))


# --- sign-in -------------------------------------------------------------------------------------

_REFUSED = "user name or password not accepted"


def _check_lock(user: m.AppUser, now: datetime) -> None:
    if user.locked_until is not None and user.locked_until > now:
        raise NotAuthenticated(
            f"{user.username} is locked after repeated failed sign-ins until {user.locked_until:%H:%M} UTC; "
            "a supervisor or admin can unlock it",
            locked_until=user.locked_until.isoformat(),
        )


def _failed(session: Session, user: m.AppUser, settings: SecuritySettings, now: datetime) -> None:
    user.failed_attempts += 1
    if user.failed_attempts >= settings.lockout_threshold:
        user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
        user.failed_attempts = 0
    session.flush()


def _succeeded(user: m.AppUser) -> None:
    if user.failed_attempts or user.locked_until is not None:
        user.failed_attempts, user.locked_until = 0, None


def authenticate_password(
    *, session: Session, settings: SecuritySettings, username: str, password: str
) -> tuple[m.AppUser | None, NotAuthenticated | None]:
    """The user if the password matches. On failure the error to raise AFTER the caller commits the
    failed-attempt count (a refused sign-in must still count toward the lockout)."""
    now = utcnow()
    user = session.scalars(select(m.AppUser).where(m.AppUser.username == username).with_for_update()).one_or_none()
    if user is None or not user.active:
        passwords.verify_secret(_dummy_hash(), password)  # same cost as a real check: no user enumeration by timing
        return None, NotAuthenticated(_REFUSED)
    _check_lock(user, now)
    if not passwords.verify_secret(user.password_hash, password):
        _failed(session, user, settings, now)
        if user.locked_until is not None and user.locked_until > now:
            return None, NotAuthenticated(
                f"{_REFUSED}; {user.username} is now locked until {user.locked_until:%H:%M} UTC"
            )
        return None, NotAuthenticated(_REFUSED)
    _succeeded(user)
    return user, None


def authenticate_badge(
    *, session: Session, settings: SecuritySettings, badge_id: str, pin: str
) -> tuple[m.AppUser | None, NotAuthenticated | None]:
    """Badge + PIN at a station tablet; same lockout as passwords."""
    now = utcnow()
    user = session.scalars(select(m.AppUser).where(m.AppUser.badge_id == badge_id).with_for_update()).one_or_none()
    refused = "badge or PIN not accepted"
    if user is None or not user.active or user.pin_hash is None:
        passwords.verify_secret(_dummy_hash(), pin)
        return None, NotAuthenticated(refused)
    _check_lock(user, now)
    if not passwords.verify_secret(user.pin_hash, pin):
        _failed(session, user, settings, now)
        if user.locked_until is not None and user.locked_until > now:
            return None, NotAuthenticated(f"{refused}; the badge is now locked until {user.locked_until:%H:%M} UTC")
        return None, NotAuthenticated(refused)
    _succeeded(user)
    return user, None


def verify_signature(*, session: Session, settings: SecuritySettings, actor: Actor, secret: str) -> m.AppUser:
    """An e-signature: the signed-in user re-enters their password (or PIN for badge users).

    Runs in a transaction of its own, before the signed change (app.api.authz.check_signature):
    a wrong secret counts toward the lockout, that count is committed, and SignatureRefused is
    raised by the caller so the change itself never starts."""
    if actor.user_id is None:
        raise SignatureRefused("only a signed-in person can sign")
    now = utcnow()
    user = session.scalars(select(m.AppUser).where(m.AppUser.id == actor.user_id).with_for_update()).one_or_none()
    if user is None or not user.active:
        raise SignatureRefused(f"{actor.username} is not an active user")
    _check_lock(user, now)
    if passwords.verify_secret(user.password_hash, secret) or passwords.verify_secret(user.pin_hash, secret):
        _succeeded(user)
        return user
    _failed(session, user, settings, now)
    locked = user.locked_until is not None and user.locked_until > now
    raise SignatureRefused(
        f"the password or PIN of {actor.username} did not match: nothing was signed"
        + (f"; {actor.username} is now locked until {user.locked_until:%H:%M} UTC" if locked else "")
    )


@functools.cache
def _dummy_hash() -> str:
    """A hash no secret matches, made on first use (not at import: argon2 costs tens of ms)."""
    return passwords.hash_secret(secrets.token_hex(16))


# --- tokens --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedToken:
    id: int
    raw: str
    expires_at: datetime | None


def issue_token(
    *, session: Session, user: m.AppUser, kind: str, lifetime: timedelta | None, label: str = ""
) -> IssuedToken:
    if kind not in ("session", "api"):
        raise InvalidInput("a token is a page session or an API token")
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    row = m.AuthToken(
        user_id=user.id,
        kind=kind,
        token_sha256=token_digest(raw),
        label=label,
        created_at=now,
        expires_at=now + lifetime if lifetime is not None else None,
    )
    session.add(row)
    session.flush()
    return IssuedToken(id=row.id, raw=raw, expires_at=row.expires_at)


@dataclass(frozen=True, slots=True)
class ResolvedToken:
    token_id: int
    kind: str
    actor: Actor
    expires_at: datetime | None


def resolve_token(*, session: Session, raw: str) -> ResolvedToken | None:
    """The actor behind a raw token, or None if it is unknown, expired, revoked or its user inactive."""
    row = session.execute(
        select(m.AuthToken, m.AppUser)
        .join(m.AppUser, m.AppUser.id == m.AuthToken.user_id)
        .where(m.AuthToken.token_sha256 == token_digest(raw))
    ).one_or_none()
    if row is None:
        return None
    token, user = row
    now = utcnow()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now) or not user.active:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        session.execute(update(m.AuthToken).where(m.AuthToken.id == token.id).values(last_used_at=now))
    return ResolvedToken(token_id=token.id, kind=token.kind, actor=actor_of(user), expires_at=token.expires_at)


def revoke_token(*, session: Session, actor: Actor, token_id: int, may_revoke_others: bool) -> m.AuthToken:
    token = session.get(m.AuthToken, token_id)
    if token is None or (token.user_id != actor.user_id and not may_revoke_others):
        raise NotFound(f"token {token_id} does not exist or is not yours")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
    return token


def revoke_all_tokens(*, session: Session, user_id: int) -> None:
    session.execute(
        update(m.AuthToken)
        .where(m.AuthToken.user_id == user_id, m.AuthToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def tokens_of(*, session: Session, user_id: int) -> list[m.AuthToken]:
    return list(
        session.scalars(
            select(m.AuthToken)
            .where(m.AuthToken.user_id == user_id, m.AuthToken.kind == "api")
            .order_by(m.AuthToken.id)
        )
    )
