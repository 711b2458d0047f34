"""The MCP server (the official SDK's low-level `Server`) that offers agents.tools.

One server serves both transports. Over HTTP the caller is the user that agents.http
authenticated for this request (and already counted against the rate limit); over stdio it
is the user `mcp_stdio --user` names, and each call is counted here.

Django's code is synchronous: each call runs in Django's thread for synchronous code
(`sync_to_async(thread_sensitive=True)`, as Django runs a view under ASGI), between the
signals Django sends around a request, so database connections are opened and closed as for
any request.
"""

import json
from typing import Any

import mcp_types as types
from asgiref.sync import sync_to_async
from django.core import signals
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from accounts.models import User
from agents import access, schemas, tools

# Where agents.http leaves the authenticated user in the ASGI scope of an /mcp request.
USER_SCOPE_KEY = "agents.user"

INSTRUCTIONS = (
    "The signed-in user's tasks and lists. Every tool acts for that user only. Answers are "
    "the REST API's JSON (GET /api/{user_id}/... answers the same); an error result carries "
    'the API\'s error body, {"detail": ..., "errors": {field: [...]}}.'
)

READ_ONLY = {"list_tasks", "get_task", "list_lists", "task_stats"}
DESTRUCTIVE = {"delete_task"}


def tool_listing() -> list[types.Tool]:
    return [
        types.Tool(
            name=tool.name,
            description=tool.description,
            input_schema=schemas.input_schema(tool.name),
            annotations=types.ToolAnnotations(
                read_only_hint=tool.name in READ_ONLY,
                destructive_hint=tool.name in DESTRUCTIVE,
                open_world_hint=False,
            ),
        )
        for tool in tools.TOOLS.values()
    ]


def as_request(function):
    """`function`, run as Django runs a request: between `request_started` (which closes
    connections past their age) and `request_finished` (which closes them again)."""

    def run(*args: Any) -> Any:
        signals.request_started.send(sender=Server)
        try:
            return function(*args)
        finally:
            signals.request_finished.send(sender=Server)

    return sync_to_async(run, thread_sensitive=True)


def run_call(user: User, name: str, arguments: dict[str, Any] | None, count: bool):
    """One tool call for `user`; with `count`, first drawn from the user's rate limit (over
    stdio, where no HTTP layer has counted it), the API's 429 body being the answer past it."""
    if count:
        refused = access.throttle(user)
        if refused is not None:
            return tools.Answer(refused.status, refused.body)
    return tools.call(user, name, arguments)


def call_result(answer: tools.Answer, protocol_version: str) -> types.CallToolResult:
    """The answer as a tool result: the API's JSON as text and as structured content.

    Protocol versions before 2026-07-28 allow only an object as structured content, so an
    array answer (a list of tasks) is wrapped as `{"result": [...]}` for them, as the SDK
    wraps such results; the text is the API's JSON in every version.
    """
    text = answer.json()
    if answer.body is None:
        return types.CallToolResult(content=[types.TextContent(text=text)])
    structured = json.loads(text)
    if not isinstance(structured, dict) and protocol_version not in MODERN_PROTOCOL_VERSIONS:
        structured = {"result": structured}
    return types.CallToolResult(
        content=[types.TextContent(text=text)],
        structured_content=structured,
        is_error=answer.is_error,
    )


def build_server(*, user: User | None = None) -> Server:
    """The server; `user` fixes the caller (stdio), else it is the HTTP request's."""

    async def list_tools(
        ctx: ServerRequestContext, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        listing = await sync_to_async(tool_listing, thread_sensitive=True)()
        return types.ListToolsResult(tools=listing)

    async def call_tool(
        ctx: ServerRequestContext, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        caller = user if user is not None else ctx.request.scope[USER_SCOPE_KEY]
        answer = await as_request(run_call)(caller, params.name, params.arguments, user is not None)
        return call_result(answer, ctx.protocol_version)

    return Server(
        "todo",
        version="1.0.0",
        title="Todo tasks",
        instructions=INSTRUCTIONS,
        get_tool_input_schema=schemas.input_schema,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
