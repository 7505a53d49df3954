"""HEAD on every GET route, as HTTP asks (RFC 9110 §9.3.2): monitors and load balancers probe
`HEAD /health`. FastAPI routes declared with `@router.get` answer only GET; this middleware runs a
HEAD as the GET it mirrors and sends the same status and headers without the body, so nothing is
declared twice and the OpenAPI schema stays one operation per route."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """ASGI middleware: a HEAD request is served by the GET route, its body dropped."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b"", "more_body": False}
                if done:
                    return
                done.append(True)
            await send(message)

        done: list[bool] = []
        await self.app({**scope, "method": "GET"}, receive, send_headers_only)
