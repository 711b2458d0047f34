"""`manage.py mcp_stdio --user <id>`: the same tools over stdin/stdout, for agents that start
their MCP servers as commands."""

import os
import sys
from pathlib import Path

import anyio
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from rest_framework.test import APIClient

from tests.agents.conftest import answer_of
from tests.factories import TaskFactory

REPOSITORY = Path(__file__).resolve().parents[2]

# The server is another process: it must open the test database, which on SQLite lives in
# this process's memory.
requires_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (a test database another process can open): set DATABASE_URL",
)


def test_an_unknown_user_is_a_clear_error(db):
    with pytest.raises(CommandError, match="There is no active user with the id 'nobody'"):
        call_command("mcp_stdio", "--user", "nobody")


def test_a_deactivated_user_is_refused_too(user):
    user.is_active = False
    user.save()

    with pytest.raises(CommandError, match="no active user"):
        call_command("mcp_stdio", "--user", user.id)


def database_url() -> str:
    """The test database, for another process to open."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgresql://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@requires_postgresql
def test_the_command_serves_the_tools_as_that_user(transactional_db, user, other_user, make_token):
    TaskFactory(user=other_user, title="Not mine")
    server = StdioServerParameters(
        command=sys.executable,
        args=["manage.py", "mcp_stdio", "--user", user.id],
        cwd=str(REPOSITORY),
        env={**os.environ, "DATABASE_URL": database_url(), "API_RATE_LIMIT": "3/min"},
    )

    async def session():
        async with Client(server) as client:
            listed = await client.list_tools()
            created = await client.call_tool("create_task", {"title": "From the desk"})
            listing = await client.call_tool("list_tasks", {})
            over = await client.call_tool("task_stats", {})
            refused = await client.call_tool("task_stats", {})
            return listed.tools, created, listing, over, refused

    tools, created, listing, over, refused = anyio.run(session)

    assert len(tools) == 10
    task = answer_of(created)
    assert task["user_id"] == user.id
    rest = APIClient(headers={"Authorization": f"Bearer {make_token(user.id)}"})
    assert rest.get(f"/api/{user.id}/tasks/{task['id']}").json() == task
    assert answer_of(listing) == [task]
    assert over.is_error is False
    assert refused.is_error is True
    assert answer_of(refused)["detail"].startswith("Request was throttled.")
