"""Who is acting, and the e-signature check: the seam between the routers and app/security.

The gate (app.security.access) has already authenticated the caller and checked the route's
roles when a handler runs; ``CurrentActorDep`` hands the handler that caller.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from app.domain.actors import Actor
from app.domain.errors import NotAuthenticated, SignatureRefused
from app.persistence import models as m
from app.services import users


async def current_actor(request: Request) -> Actor:
    actor: Actor | None = getattr(request.state, "actor", None)
    if actor is None:  # a public route asked for an actor: a programming error, refused safely
        raise NotAuthenticated("sign in first")
    return actor


CurrentActorDep = Annotated[Actor, Depends(current_actor)]


async def check_signature(request: Request, *, actor: Actor, secret: str) -> m.AppUser:
    """Verify an e-signature's re-entered password or PIN, in a transaction of its own.

    Runs before the signed change starts: a wrong secret counts toward the lockout (committed) and
    raises SignatureRefused, so nothing is signed and nothing changes."""

    def verify() -> m.AppUser | SignatureRefused:
        with request.app.state.session_factory() as session, session.begin():
            try:
                user = users.verify_signature(
                    session=session, settings=request.app.state.settings.security, actor=actor, secret=secret
                )
            except SignatureRefused as refused:
                return refused  # leaving the block commits the failed-attempt count
            session.expunge(user)
            return user

    outcome = await run_in_threadpool(verify)
    if isinstance(outcome, SignatureRefused):
        raise outcome
    return outcome


QualityEngineerDep = CurrentActorDep  # the role itself is checked by the route's allow(...) declaration
