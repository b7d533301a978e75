"""Refuse at the edge what no route could take: oversized bodies (413 problem), NUL characters (422 problem)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(scope, send)
                return
        seen = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # Answer 413 now; the application sees a client that went away.
                    refused = True
                    await self._refuse(scope, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        await _send_problem(
            scope,
            send,
            status=413,
            slug="payload-too-large",
            title="Payload too large",
            detail=f"The request body is larger than this MES accepts ({self.max_bytes} bytes)",
        )


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


class RefuseNul:
    """No field of the MES takes a NUL character (U+0000), and PostgreSQL cannot store one in text: refuse it in
    the path, the query or a JSON body with a 422 problem, the same on every database, before any route runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        if "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query:
            await _refuse_nul(scope, send)
            return
        content_type = next((v for k, v in scope.get("headers", []) if k == b"content-type"), b"")
        form = content_type.startswith(b"application/x-www-form-urlencoded")
        # JSON spells NUL as the escape \u0000, a form as %00 (a raw NUL byte is no JSON at all: the parser refuses it)
        escaped_nul = b"%00" if form else b"\\u0000"
        tail = b""
        refused = False

        async def scanning_receive() -> Message:
            nonlocal tail, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                chunk = tail + message.get("body", b"")
                if escaped_nul in chunk:
                    refused = True
                    await _refuse_nul(scope, send)
                    return {"type": "http.disconnect"}
                tail = chunk[-5:]
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, scanning_receive, guarded_send)


async def _refuse_nul(scope: Scope, send: Send) -> None:
    await _send_problem(
        scope,
        send,
        status=422,
        slug="invalid-input",
        title="Invalid input",
        detail="The request contains a NUL character (U+0000); no field of the MES accepts one",
    )
