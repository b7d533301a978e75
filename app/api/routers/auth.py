"""Sign-in for integrations and scripts (bearer tokens), the caller's own tokens, and user admin."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Request, status
from pydantic import Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from app.api import schemas
from app.api.authz import CurrentActorDep
from app.api.deps import SessionDep
from app.domain.actors import Role
from app.domain.errors import InvalidInput, NotAuthenticated
from app.persistence import models as m
from app.security.access import SIGNED_IN, allow, public
from app.services import users

router = APIRouter(tags=["access"])
_ERRORS = schemas.problem_responses(401, 403, 404, 409, 422)

Username = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{1,63}$")]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=256)]
StationIds = Annotated[
    list[Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$")]],
    Field(max_length=200, description="Only for a station's service account: the station ids it acts for"),
]


class TokenRequest(schemas.Input):
    """A user name and password, or a badge id and PIN, for a bearer token."""

    username: Username | None = None
    password: Secret | None = None
    badge_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    pin: Annotated[str, StringConstraints(min_length=1, max_length=16)] | None = None
    label: str = Field(default="", max_length=128, description="What the token is for, e.g. 'leak tester PC'")
    lifetime_days: float | None = Field(
        default=None, gt=0, le=3650, description="Default: the plant's API token lifetime (90 days)"
    )


class TokenOut(schemas.Output):
    token_id: int
    access_token: str = Field(description="Shown once: send it as 'Authorization: Bearer <token>'")
    token_type: str = "bearer"
    expires_at: datetime | None
    username: str
    role: Role


class TokenInfo(schemas.Output):
    id: int
    label: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class MeOut(schemas.Output):
    username: str
    display_name: str
    role: Role
    stations: list[str] = Field(description="A station's service account: the stations it acts for")


class UserOut(schemas.Output):
    username: str
    display_name: str
    role: Role
    badge_id: str | None
    active: bool
    has_password: bool
    has_pin: bool
    locked_until: datetime | None
    stations: list[str] = Field(description="A station's service account: the stations it acts for")


class UserCreate(schemas.Input):
    username: Username
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
    role: Role
    password: Secret | None = Field(default=None, description="At least 10 characters")
    badge_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,64}$")] | None = None
    pin: Annotated[str, StringConstraints(pattern=r"^[0-9]{4,8}$")] | None = None
    stations: StationIds = Field(default_factory=list)


class UserUpdate(schemas.Input):
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)] | None = None
    role: Role | None = None
    active: bool | None = None
    password: Secret | None = None
    badge_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{0,64}$")] | None = None
    pin: Annotated[str, StringConstraints(pattern=r"^[0-9]{4,8}$")] | None = None
    stations: StationIds | None = Field(default=None, description="All the stations it acts for (omit: unchanged)")
    reason: schemas.Reason


class UnlockRequest(schemas.Input):
    reason: schemas.Reason


def user_out(user: m.AppUser, stations: list[str]) -> UserOut:
    return UserOut(
        stations=stations,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        badge_id=user.badge_id,
        active=user.active,
        has_password=user.password_hash is not None,
        has_pin=user.pin_hash is not None,
        locked_until=user.locked_until,
    )


@router.post(
    "/auth/token",
    operation_id="issueToken",
    summary="Sign in and get a bearer token",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenOut,
    responses=_ERRORS,
    dependencies=[public("signing in is how a caller gets a credential")],
)
async def issue_token(body: TokenRequest, request: Request) -> TokenOut:
    """Five failed attempts in a row lock the account for 15 minutes (plant settings)."""
    settings = request.app.state.settings.security

    def sign_in() -> TokenOut | NotAuthenticated:
        with request.app.state.session_factory() as session, session.begin():
            if body.username is not None and body.password is not None:
                user, refused = users.authenticate_password(
                    session=session, settings=settings, username=body.username, password=body.password
                )
            elif body.badge_id is not None and body.pin is not None:
                user, refused = users.authenticate_badge(
                    session=session, settings=settings, badge_id=body.badge_id, pin=body.pin
                )
            else:
                raise InvalidInput("give a user name and password, or a badge id and PIN")
            if user is None:
                assert refused is not None
                return refused  # leaving the block commits the failed-attempt count
            lifetime = timedelta(days=body.lifetime_days or settings.api_token_days)
            issued = users.issue_token(session=session, user=user, kind="api", lifetime=lifetime, label=body.label)
            return TokenOut(
                token_id=issued.id,
                access_token=issued.raw,
                expires_at=issued.expires_at,
                username=user.username,
                role=Role(user.role),
            )

    outcome = await run_in_threadpool(sign_in)
    if isinstance(outcome, NotAuthenticated):
        raise outcome
    return outcome


@router.get(
    "/auth/me",
    operation_id="whoAmI",
    summary="The signed-in caller",
    response_model=MeOut,
    responses=_ERRORS,
    dependencies=[allow(*SIGNED_IN)],
)
async def who_am_i(actor: CurrentActorDep) -> MeOut:
    assert actor.role is not None
    return MeOut(
        username=actor.username, display_name=actor.display_name, role=actor.role, stations=sorted(actor.stations)
    )


@router.get(
    "/auth/tokens",
    operation_id="listMyTokens",
    summary="The caller's API tokens",
    response_model=list[TokenInfo],
    responses=_ERRORS,
    dependencies=[allow(*SIGNED_IN)],
)
def list_my_tokens(actor: CurrentActorDep, session: SessionDep) -> list[TokenInfo]:
    assert actor.user_id is not None
    return [TokenInfo.model_validate(t) for t in users.tokens_of(session=session, user_id=actor.user_id)]


@router.post(
    "/auth/tokens/{token_id}/revoke",
    operation_id="revokeToken",
    summary="Revoke an API token (your own; an admin may revoke anyone's)",
    response_model=TokenInfo,
    responses=_ERRORS,
    dependencies=[allow(*SIGNED_IN)],
)
def revoke_token(
    token_id: schemas.TokenIdPath, actor: CurrentActorDep, session: SessionDep, request: Request
) -> TokenInfo:
    with session.begin():
        token = users.revoke_token(
            session=session, actor=actor, token_id=token_id, may_revoke_others=actor.role is Role.ADMIN
        )
        out = TokenInfo.model_validate(token)
    request.app.state.gate.forget([token_id])
    return out


@router.get(
    "/users",
    operation_id="listUsers",
    summary="List users",
    response_model=list[UserOut],
    responses=_ERRORS,
    dependencies=[allow(Role.ADMIN)],
)
def list_users(session: SessionDep) -> list[UserOut]:
    bound = users.stations_by_user(session=session)
    return [user_out(u, bound.get(u.id, [])) for u in users.list_users(session=session)]


@router.post(
    "/users",
    operation_id="createUser",
    summary="Create a user",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses=_ERRORS,
    dependencies=[allow(Role.ADMIN)],
)
def create_user(body: UserCreate, actor: CurrentActorDep, session: SessionDep) -> UserOut:
    """Operators may have a badge id + PIN only; every other role signs in with a password."""
    with session.begin():
        user = users.create_user(
            session=session,
            actor=actor,
            username=body.username,
            display_name=body.display_name,
            role=body.role,
            password=body.password,
            badge_id=body.badge_id,
            pin=body.pin,
            stations=body.stations,
        )
        return user_out(user, users.stations_of(session=session, user_id=user.id))


@router.put(
    "/users/{username}",
    operation_id="changeUser",
    summary="Change a user's role, status or secrets (revokes their tokens)",
    response_model=UserOut,
    responses=_ERRORS,
    dependencies=[allow(Role.ADMIN)],
)
def change_user(
    username: str, body: UserUpdate, actor: CurrentActorDep, session: SessionDep, request: Request
) -> UserOut:
    with session.begin():
        user = users.change_user(
            session=session,
            actor=actor,
            username=username,
            change=users.UserChange(
                display_name=body.display_name,
                role=body.role,
                active=body.active,
                password=body.password,
                badge_id=body.badge_id,
                pin=body.pin,
                stations=body.stations,
            ),
            reason=body.reason,
        )
        out = user_out(user, users.stations_of(session=session, user_id=user.id))
    request.app.state.gate.forget()
    return out


@router.post(
    "/users/{username}/unlock",
    operation_id="unlockUser",
    summary="Unlock a user locked after failed sign-ins",
    response_model=UserOut,
    responses=_ERRORS,
    dependencies=[allow(Role.ADMIN, Role.SUPERVISOR)],
)
def unlock_user(username: str, body: UnlockRequest, actor: CurrentActorDep, session: SessionDep) -> UserOut:
    with session.begin():
        user = users.unlock_user(session=session, actor=actor, username=username, reason=body.reason)
        return user_out(user, users.stations_of(session=session, user_id=user.id))
