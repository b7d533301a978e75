"""The edge middleware on its own, fed the ASGI messages a server sends for a body that arrives in pieces.

(The HTTP test client joins a streamed body into one message, so splits are driven here directly.)
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest

from app.api.limits import EdgeLimits

Message = dict[str, Any]


async def _echo_body(scope: Any, receive: Any, send: Any) -> None:
    """An application that reads the whole body and answers 200 with its length."""
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    payload = json.dumps({"received": len(body)}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": payload})


async def _acall(
    pieces: list[bytes], *, max_bytes: int = 1_000, headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[int, Any]:
    messages = [{"type": "http.request", "body": p, "more_body": i < len(pieces) - 1} for i, p in enumerate(pieces)]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/stations/CEX-01/start",
        "query_string": b"",
        "headers": headers if headers is not None else [(b"content-type", b"application/json")],
    }
    await EdgeLimits(_echo_body, max_bytes=max_bytes)(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert len(bodies) == 1, "exactly one answer, nothing of the application's after a refusal"
    return status, json.loads(bodies[0]["body"])


def _call(pieces: list[bytes], **options: Any) -> tuple[int, Any]:
    return asyncio.run(_acall(pieces, **options))


BODY = b'{"serial": "HP26-0000007", "operator": "badge \\u0000 1001"}'
ESCAPE_AT = BODY.index(b"\\u0000")


def _split(body: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0, *cuts, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(edges)]


@pytest.mark.parametrize(
    "cuts",
    [
        [],
        [ESCAPE_AT + 3],  # two pieces
        [ESCAPE_AT + 2, ESCAPE_AT + 4],  # three, the middle one shorter than the escape
        list(range(ESCAPE_AT - 2, ESCAPE_AT + 8)),  # byte by byte across the escape
    ],
    ids=["whole", "two", "three", "byte-by-byte"],
)
def test_a_nul_escape_is_refused_however_the_body_is_split(cuts: list[int]) -> None:
    status, problem = _call(_split(BODY, cuts))
    assert status == 422
    assert "NUL character" in problem["detail"]


@pytest.mark.parametrize("cuts", [[], list(range(1, 40))], ids=["whole", "byte-by-byte"])
def test_a_clean_body_passes_whole_however_it_is_split(cuts: list[int]) -> None:
    clean = BODY.replace(b"\\u0000", b"\\u0041")
    status, answer = _call(_split(clean, cuts))
    assert status == 200
    assert answer == {"received": len(clean)}


def test_a_body_over_the_limit_without_a_length_is_refused_as_it_arrives() -> None:
    status, problem = _call([b"x" * 600, b"y" * 600], max_bytes=1_000)
    assert status == 413
    assert "1000 bytes" in problem["detail"]
    status, _ = _call([b"x" * 600, b"y" * 400], max_bytes=1_000)
    assert status == 200


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    status, _ = _call([b"{}"], max_bytes=1_000, headers=[(b"content-length", b"5000")])
    assert status == 413


def test_a_form_body_spells_nul_as_percent_00() -> None:
    form = [(b"content-type", b"application/x-www-form-urlencoded")]
    status, _ = _call([b"user=a%0", b"0b"], headers=form)
    assert status == 422
    status, _ = _call([b"user=a\\u0000b"], headers=form)  # not an escape in a form
    assert status == 200
