"""The MCP endpoint under a real uvicorn, driven by the official SDK's client."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from accounts.models import User
from tests.sync.conftest import asgi_server  # noqa: F401 - the realtime process, reused here


@dataclass
class Agent:
    """An MCP client of `/mcp` with a token: each call is one connection, as agents make."""

    url: str
    token: str | None
    mode: str = "auto"

    def session(self):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        http = httpx2.AsyncClient(headers=headers, timeout=30)
        return http, Client(streamable_http_client(self.url, http_client=http), mode=self.mode)

    def run(self, action: Callable[[Client], Any]) -> Any:
        async def main() -> Any:
            http, client = self.session()
            async with http, client:
                return await action(client)

        return anyio.run(main)

    def call(self, tool: str, /, **arguments: Any) -> types.CallToolResult:
        return self.run(lambda client: client.call_tool(tool, arguments))

    def tools(self) -> list[types.Tool]:
        return self.run(lambda client: client.list_tools()).tools


def answer_of(result: types.CallToolResult) -> Any:
    """The API's JSON a tool answered, read from its text (asserted equal to the structured
    content wherever both are there)."""
    text = result.content[0].text
    body = json.loads(text) if text else None
    if result.structured_content is not None:
        assert result.structured_content == body
    return body


@pytest.fixture
def mcp_url(asgi_server) -> str:  # noqa: F811 - the fixture imported above
    return f"http://{asgi_server}/mcp"


@pytest.fixture
def agent_for(mcp_url, make_token) -> Callable[[User], Agent]:
    return lambda user, **kwargs: Agent(mcp_url, make_token(user.id), **kwargs)


@pytest.fixture
def agent(agent_for, user) -> Agent:
    return agent_for(user)
