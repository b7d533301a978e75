"""Users, sign-in, lockout, page sessions, API tokens and the re-entry of a secret for an e-signature.

Raw tokens are 256-bit random strings shown once; the database keeps their SHA-256 only. Every
failed password or PIN (at sign-in or when signing) counts toward the lockout.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.config import SecuritySettings
from app.domain.actors import SYSTEM, Actor, Role
from app.domain.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, SignatureRefused
from app.persistence import models as m
from app.security import passwords
from app.services import audit
from app.services.clock import utcnow

TOKEN_BYTES = 32


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def actor_of(user: m.AppUser, stations: Iterable[str] = ()) -> Actor:
    return Actor(
        username=user.username,
        role=Role(user.role),
        user_id=user.id,
        display_name=user.display_name,
        stations=frozenset(stations),
    )


def stations_of(*, session: Session, user_id: int) -> list[str]:
    """The stations a service account is bound to act for, sorted (none for other roles)."""
    return list(
        session.scalars(
            select(m.ServiceAccountStation.station_id)
            .where(m.ServiceAccountStation.user_id == user_id)
            .order_by(m.ServiceAccountStation.station_id)
        )
    )


def stations_by_user(*, session: Session) -> dict[int, list[str]]:
    """Every service account's stations, by user id."""
    bound: dict[int, list[str]] = {}
    rows = session.execute(
        select(m.ServiceAccountStation.user_id, m.ServiceAccountStation.station_id).order_by(
            m.ServiceAccountStation.station_id
        )
    )
    for user_id, station_id in rows:
        bound.setdefault(user_id, []).append(station_id)
    return bound


def _user_view(user: m.AppUser, stations: Sequence[str]) -> dict[str, Any]:
    """What the audit trail records of a user: never a hash."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "badge_id": user.badge_id,
        "active": user.active,
        "has_password": user.password_hash is not None,
        "has_pin": user.pin_hash is not None,
        "stations": list(stations),
    }


def _checked_stations(*, session: Session, role: Role, stations: Sequence[str], active: bool) -> list[str]:
    """The stations a user of ``role`` is bound to: a service account (while active) to at least one
    existing station, every other role to none."""
    wanted = sorted(set(stations))
    if role is not Role.STATION:
        if wanted:
            raise InvalidInput(f"only a station's service account is bound to stations, not a {role.value}")
        return []
    if not wanted and active:
        raise InvalidInput(
            "a station's service account acts for named stations only: give stations (the station ids it serves)"
        )
    known = set(session.scalars(select(m.Station.station_id).where(m.Station.station_id.in_(wanted))))
    if unknown := [s for s in wanted if s not in known]:
        raise NotFound(f"no station {', '.join(unknown)} in the station master data")
    return wanted


def _bind(*, session: Session, user_id: int, stations: Sequence[str]) -> None:
    session.execute(delete(m.ServiceAccountStation).where(m.ServiceAccountStation.user_id == user_id))
    session.add_all(m.ServiceAccountStation(user_id=user_id, station_id=s) for s in stations)


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
    stations: Sequence[str] = (),
) -> m.AppUser:
    """A new user. Operators may sign in by badge + PIN; everyone else needs a password. A station's
    service account is bound to the ``stations`` it acts for."""
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
    bound = _checked_stations(session=session, role=role, stations=stations, active=True)
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
    _bind(session=session, user_id=user.id, stations=bound)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="user.create",
        entity_type="user",
        entity_id=username,
        before=None,
        after=_user_view(user, bound),
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
    stations: Sequence[str] | None = None  # a service account's stations, all of them (None: unchanged)


def change_user(*, session: Session, actor: Actor, username: str, change: UserChange, reason: str) -> m.AppUser:
    """Change a user's role, status, secrets or (a service account's) stations. Deactivating a user or
    changing a secret or the role revokes their tokens; a new binding applies to the tokens it has."""
    user = user_by_name(session=session, username=username, for_update=True)
    stations_before = stations_of(session=session, user_id=user.id)
    before = _user_view(user, stations_before)
    if change.display_name is not None:
        user.display_name = change.display_name
    if change.role is not None:
        user.role = change.role.value
    if change.badge_id is not None:
        badge_id = change.badge_id or None
        if badge_id is not None and session.scalar(
            select(m.AppUser.id).where(m.AppUser.badge_id == badge_id, m.AppUser.id != user.id)
        ):
            raise Conflict(f"badge {badge_id} already belongs to another user")
        user.badge_id = badge_id
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
    wanted = stations_before if change.stations is None and Role(user.role) is Role.STATION else change.stations
    bound = _checked_stations(session=session, role=Role(user.role), stations=wanted or (), active=user.active)
    if bound != stations_before:
        _bind(session=session, user_id=user.id, stations=bound)
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
        after=_user_view(user, bound),
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


def _refused(settings: SecuritySettings) -> NotAuthenticated:
    """The one answer to every refused sign-in: an unknown user name or badge, a wrong password or PIN
    and a locked account read alike, so probing tells nobody which names or badges exist."""
    return NotAuthenticated(
        "user name and password, or badge and PIN, not accepted; after "
        f"{settings.lockout_threshold} failed attempts in a row an account is locked for "
        f"{settings.lockout_minutes:g} minutes: ask a supervisor or admin to unlock it"
    )


def _is_locked(user: m.AppUser, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def _failed(session: Session, user: m.AppUser, settings: SecuritySettings, now: datetime) -> None:
    """Count a wrong password or PIN; the one that reaches the threshold locks the account (audited)."""
    user.failed_attempts += 1
    if user.failed_attempts < settings.lockout_threshold:
        session.flush()
        return
    failures, locked_before = user.failed_attempts, user.locked_until
    user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
    user.failed_attempts = 0
    session.flush()
    audit.record(  # last in the transaction: it takes the audit head's lock until the commit
        session=session,
        actor=SYSTEM,
        action="user.lock",
        entity_type="user",
        entity_id=user.username,
        before={"failed_attempts": failures - 1, "locked_until": _iso(locked_before)},
        after={"failed_attempts": 0, "locked_until": _iso(user.locked_until), "locked_after_failures": failures},
        reason=f"{failures} failed sign-ins or signatures in a row",
    )


def _succeeded(user: m.AppUser) -> None:
    if user.failed_attempts or user.locked_until is not None:
        user.failed_attempts, user.locked_until = 0, None


def authenticate_password(
    *, session: Session, settings: SecuritySettings, username: str, password: str
) -> tuple[m.AppUser | None, NotAuthenticated | None]:
    """The user if the password matches. On failure the error to raise AFTER the caller commits the
    failed-attempt count (a refused sign-in must still count toward the lockout).

    Every path costs exactly one password verification (no user, no password, locked or not), so
    neither the answer nor its timing tells which user names exist."""
    now = utcnow()
    user = session.scalars(select(m.AppUser).where(m.AppUser.username == username).with_for_update()).one_or_none()
    if user is None or not user.active:
        passwords.verify_secret(None, password)
        return None, _refused(settings)
    matches = passwords.verify_secret(user.password_hash, password)
    if _is_locked(user, now):
        return None, _refused(settings)
    if not matches:
        _failed(session, user, settings, now)
        return None, _refused(settings)
    _succeeded(user)
    if passwords.needs_rehash(user.password_hash):  # the plant changed the cost since it was made
        user.password_hash = passwords.hash_secret(password)
    return user, None


def authenticate_badge(
    *, session: Session, settings: SecuritySettings, badge_id: str, pin: str
) -> tuple[m.AppUser | None, NotAuthenticated | None]:
    """Badge + PIN at a station tablet; same lockout, same single verification and same answer as passwords."""
    now = utcnow()
    user = session.scalars(select(m.AppUser).where(m.AppUser.badge_id == badge_id).with_for_update()).one_or_none()
    if user is None or not user.active or user.pin_hash is None:
        passwords.verify_secret(None, pin)
        return None, _refused(settings)
    matches = passwords.verify_secret(user.pin_hash, pin)
    if _is_locked(user, now):
        return None, _refused(settings)
    if not matches:
        _failed(session, user, settings, now)
        return None, _refused(settings)
    _succeeded(user)
    if passwords.needs_rehash(user.pin_hash):
        user.pin_hash = passwords.hash_secret(pin)
    return user, None


def verify_signature(*, session: Session, settings: SecuritySettings, actor: Actor, secret: str) -> m.AppUser:
    """An e-signature: the signed-in user re-enters their password (or PIN for badge users).

    Runs in a transaction of its own, before the signed change (app.api.authz.check_signature):
    a wrong secret counts toward the lockout, that count is committed, and SignatureRefused is
    raised by the caller so the change itself never starts. The signer is already signed in, so
    the refusal may say that their own account is locked; a locked signer's secret is checked all
    the same (same cost) and refused."""
    if actor.user_id is None:
        raise SignatureRefused("only a signed-in person can sign")
    now = utcnow()
    user = session.scalars(select(m.AppUser).where(m.AppUser.id == actor.user_id).with_for_update()).one_or_none()
    if user is None or not user.active:
        raise SignatureRefused(f"{actor.username} is not an active user")
    matches = passwords.verify_secret(user.password_hash, secret) or passwords.verify_secret(user.pin_hash, secret)
    if user.locked_until is not None and user.locked_until > now:
        raise SignatureRefused(
            f"{actor.username} is locked after repeated failed attempts until {user.locked_until:%H:%M} UTC "
            "(a supervisor or admin can unlock it): nothing was signed"
        )
    if matches:
        _succeeded(user)
        return user
    _failed(session, user, settings, now)
    locked = _is_locked(user, now)
    raise SignatureRefused(
        f"the password or PIN of {actor.username} did not match: nothing was signed"
        + (f"; {actor.username} is now locked until {user.locked_until:%H:%M} UTC" if locked else "")
    )


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
    stations = stations_of(session=session, user_id=user.id) if user.role == Role.STATION.value else ()
    return ResolvedToken(
        token_id=token.id, kind=token.kind, actor=actor_of(user, stations), expires_at=token.expires_at
    )


def revoke_token(*, session: Session, actor: Actor, token_id: int, may_revoke_others: bool) -> m.AuthToken:
    """Revoke a token. Revoking another user's token is an audit event naming its owner and its id
    (never the token); signing out, or revoking one's own token, is not."""
    token = session.get(m.AuthToken, token_id)
    if token is None or (token.user_id != actor.user_id and not may_revoke_others):
        raise NotFound(f"token {token_id} does not exist or is not yours")
    if token.revoked_at is not None:
        return token
    token.revoked_at = utcnow()
    session.flush()
    if token.user_id != actor.user_id:
        owner = session.get_one(m.AppUser, token.user_id)
        shown = {"token_id": token.id, "kind": token.kind, "label": token.label}
        audit.record(  # last in the transaction: it takes the audit head's lock until the commit
            session=session,
            actor=actor,
            action="user.revoke_token",
            entity_type="user",
            entity_id=owner.username,
            before={**shown, "revoked_at": None},
            after={**shown, "revoked_at": _iso(token.revoked_at)},
            reason=None,
        )
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
