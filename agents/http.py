"""`/mcp`: the tools over MCP's Streamable HTTP transport, as an ASGI app beside Django's.

Each request is served on its own (the SDK's stateless mode, JSON answers rather than SSE):
no session lives in a process, so any process behind the proxy can answer any request, with
no affinity, and a restart loses nothing. Because nothing outlives a request, the SDK's
session manager is made for each one, and `/mcp` needs no ASGI lifespan (Django's handler does
not speak it, and the processes run without it).

Before the SDK sees a request, it gets what every API request gets: an `X-Request-ID` (the
client's when sane) and an access log line, the body limit (413), the Bearer token checked by
the API's own authentication (401 with `WWW-Authenticate: Bearer`), and each tool call in it
counted against the user's API rate limit (429 with `Retry-After`), all with the API's JSON
error bodies. Only POST is served (any other method is the API's 405): without sessions, a GET
would open a stream that nothing is ever sent on, and a DELETE has no session to end.
"""

import json
import time
import uuid
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.types import Message, Receive, Scope, Send

from accounts.models import User
from agents import access
from agents.server import USER_SCOPE_KEY, build_server
from core.middleware import SANE_REQUEST_ID, access_log, current_request_id, request_too_large
from tasks import caching


def tool_calls_in(body: bytes) -> int:
    """How many `tools/call` requests a JSON-RPC body carries (a batch may carry several)."""
    try:
        message = json.loads(body)
    except ValueError:
        return 0
    messages = message if isinstance(message, list) else [message]
    return sum(
        1 for item in messages if isinstance(item, dict) and item.get("method") == "tools/call"
    )


def admit(authorization: str | None, calls: int) -> User | access.Refusal:
    """The request's user, or the API's refusal (401, 429, 503), as Django would serve it."""
    signals.request_started.send(sender=MCPEndpoint)
    try:
        user = access.authenticate(authorization)
        if isinstance(user, access.Refusal):
            return user
        return access.throttle(user, calls) or user
    finally:
        signals.request_finished.send(sender=MCPEndpoint)


class MCPEndpoint:
    """The ASGI app of `/mcp` (config/asgi.py routes it there, with or without the slash)."""

    def __init__(self) -> None:
        self.server = build_server()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = {name.decode("latin-1").lower(): value for name, value in scope["headers"]}
        offered = headers.get("x-request-id", b"").decode("latin-1")
        request_id = offered if SANE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        token = current_request_id.set(request_id)
        status: list[int] = []
        user_id: list[str] = []

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                stamped = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": stamped}
            await send(message)

        try:
            await self.serve(scope, receive, send_with_id, headers, user_id)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            access_log.info(
                "%s %s %s %.1fms user=%s",
                scope["method"],
                scope["path"],
                status[0] if status else "-",
                duration_ms,
                user_id[0] if user_id else "-",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status[0] if status else None,
                    "duration_ms": duration_ms,
                    "user_id": user_id[0] if user_id else None,
                },
            )
            current_request_id.reset(token)

    async def serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[str, bytes],
        user_id: list[str],
    ) -> None:
        body = await read_body(receive, settings.REQUEST_BODY_MAX_BYTES)
        if body is None:
            too_large = request_too_large()
            await json_response(send, too_large.status_code, json.loads(too_large.content))
            return
        authorization = headers.get("authorization")
        caller = await sync_to_async(admit, thread_sensitive=True)(
            authorization.decode("latin-1") if authorization is not None else None,
            tool_calls_in(body),
        )
        if isinstance(caller, access.Refusal):
            await json_response(send, caller.status, caller.body, caller.headers)
            return
        user_id.append(caller.pk)
        if scope["method"] != "POST":
            # Without sessions there is nothing to stream to a GET, and nothing to DELETE.
            detail = f'Method "{scope["method"]}" not allowed.'
            await json_response(send, 405, {"detail": detail}, {"Allow": "POST"})
            return
        manager = StreamableHTTPSessionManager(
            app=self.server,
            stateless=True,
            json_response=True,
            max_request_body_size=settings.REQUEST_BODY_MAX_BYTES,
        )
        async with manager.run():
            await manager.handle_request(
                {**scope, USER_SCOPE_KEY: caller}, replay(body, receive), send
            )


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it is longer than `limit`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands over the body read already, then the client's own messages
    (the disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def next_message() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return next_message


async def json_response(
    send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    content = caching.render(body)
    extra = {
        name: value
        for name, value in (headers or {}).items()
        if name.lower() not in ("content-type", "content-length")
    }
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
                *[(name.lower().encode(), value.encode()) for name, value in extra.items()],
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})
