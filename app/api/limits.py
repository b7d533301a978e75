"""Refuse at the edge what no route could take: oversized bodies (413 problem), NUL characters (422 problem)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def _send_problem(scope: Scope, send: Send, *, status: int, slug: str, title: str, detail: str) -> None:
    body = json.dumps(
        {
            "type": f"https://ashp-mes.example/problems/{slug}",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": scope.get("path"),
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class EdgeLimits:
    """Refuse at the edge what no route could take, before any route runs, the same on every database:

    - a body larger than ``max_bytes`` (413 problem), by its Content-Length or as it arrives;
    - a NUL character (U+0000) in the path, the query or the body (422 problem): no field of the MES
      takes one, and PostgreSQL cannot store one in text.

    One middleware for both, so a request passes one wrapper each way rather than two (a station
    result is ~70 kB and arrives in several chunks). A refusal answers at once; the application then
    sees a client that went away, and whatever it sends is dropped.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        if "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query:
            await _refuse_nul(scope, send)
            return
        content_type = b""
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse_size(scope, send)
                return
            if name == b"content-type":
                content_type = value
        form = content_type.startswith(b"application/x-www-form-urlencoded")
        # JSON spells NUL as the escape \u0000, a form as %00 (a raw NUL byte is no JSON at all: the parser refuses it)
        escaped_nul = b"%00" if form else b"\\u0000"
        tail = b""
        seen = 0
        refused = False

        async def guarded_receive() -> Message:
            nonlocal tail, seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                # the escape may straddle two chunks: look at the end of the last one too
                if escaped_nul in body or (tail and escaped_nul in tail + body[:5]):
                    refused = True
                    await _refuse_nul(scope, send)
                    return {"type": "http.disconnect"}
                tail = body[-5:] if len(body) >= 5 else (tail + body)[-5:]
                seen += len(body)
                if seen > self.max_bytes:
                    refused = True
                    await self._refuse_size(scope, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, guarded_receive, guarded_send)

    async def _refuse_size(self, scope: Scope, send: Send) -> None:
        await _send_problem(
            scope,
            send,
            status=413,
            slug="payload-too-large",
            title="Payload too large",
            detail=f"The request body is larger than this MES accepts ({self.max_bytes} bytes)",
        )


async def _refuse_nul(scope: Scope, send: Send) -> None:
    await _send_problem(
        scope,
        send,
        status=422,
        slug="invalid-input",
        title="Invalid input",
        detail="The request contains a NUL character (U+0000); no field of the MES accepts one",
    )
