"""Who is acting, and in which role: the one seam where the security issue plugs in authentication.

Until users, roles and signatures land (issue "Who may do what, proven"), these dependencies
identify the actor by the ``X-MES-User`` header and do NOT check a role or a credential: an
approval is recorded with the name given, nothing more. Every route that will need a role
already goes through here, so enforcing roles changes this module and no route.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    role: str | None


async def quality_engineer(
    x_mes_user: Annotated[str | None, Header(max_length=64, description="Acting user (no authentication yet)")] = None,
) -> Actor:
    return Actor(name=x_mes_user or "unidentified", role=None)


QualityEngineerDep = Annotated[Actor, Depends(quality_engineer)]
