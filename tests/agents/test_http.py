"""/mcp as an HTTP endpoint: the tools it lists, the tokens it takes, the limits it keeps."""

import json
import time

import httpx2
import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.throttles import PerUserRateThrottle
from tasks.filters import TaskFilter
from tasks.serializers import TaskListSerializer, TaskMoveSerializer, TaskSerializer
from tests.agents.conftest import Agent, answer_of
from tests.conftest import sign_token
from tests.factories import TaskFactory
from tests.jwks_server import better_auth_claims

CONTRACT = {
    "list_tasks": {
        "status", "priority", "tag", "q", "due_before", "due_after", "overdue", "list",
        "parent", "sort", "limit",
    },
    "get_task": {"task_id"},
    "create_task": {"title", "description", "completed", "priority", "due_at", "tags"},
    "update_task": {"task_id", "title", "description", "completed", "priority", "due_at"},
    "complete_task": {"task_id", "completed"},
    "delete_task": {"task_id"},
    "move_task": {"task_id", "before", "after", "list_id", "parent_id"},
    "list_lists": set(),
    "create_list": {"name", "color"},
    "task_stats": set(),
}  # fmt: skip


def writable(serializer_class) -> set[str]:
    return {name for name, field in serializer_class().fields.items() if not field.read_only}


def tool_call(name: str, arguments: dict, request_id: int = 1) -> dict:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


def post(url: str, message: dict | bytes, token: str | None = None, **headers: str):
    """One raw JSON-RPC POST, as any Streamable HTTP client sends it."""
    sent = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return httpx2.post(url, content=body, headers={**sent, **headers}, timeout=30)


def test_it_lists_the_ten_tools_with_the_apis_argument_names(agent):
    listed = {tool.name: tool for tool in agent.tools()}

    assert set(listed) == set(CONTRACT)
    for name, arguments in CONTRACT.items():
        schema = listed[name].input_schema
        assert schema["type"] == "object"
        assert arguments <= set(schema["properties"]), name
        assert "user_id" not in schema["properties"]
        assert listed[name].description
    assert listed["get_task"].input_schema["required"] == ["task_id"]
    assert listed["create_task"].input_schema["required"] == ["title"]
    assert listed["list_tasks"].annotations.read_only_hint is True
    assert listed["delete_task"].annotations.destructive_hint is True


def test_the_schemas_are_the_serializers_and_the_filter_set(agent):
    listed = {tool.name: tool.input_schema for tool in agent.tools()}

    def arguments(name: str) -> set[str]:
        return set(listed[name]["properties"])

    assert arguments("create_task") == writable(TaskSerializer)
    assert arguments("update_task") == writable(TaskSerializer) | {"task_id"}
    assert arguments("move_task") == set(TaskMoveSerializer().fields) | {"task_id"}
    assert arguments("create_list") == writable(TaskListSerializer)
    assert arguments("list_tasks") == set(TaskFilter.base_filters) | {"limit", "offset"}
    task = listed["create_task"]["properties"]
    assert task["title"]["maxLength"] == TaskSerializer().fields["title"].max_length
    assert task["priority"]["enum"] == ["none", "low", "medium", "high"]
    assert task["due_at"]["type"] == ["string", "null"]
    assert listed["list_tasks"]["properties"]["overdue"]["type"] == "boolean"
    assert listed["list_tasks"]["properties"]["limit"]["maximum"] == 500
    reminder = task["reminders"]["items"]["properties"]
    assert set(reminder) == {"before_due_minutes", "at"}  # not the read-only fire_at


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer not-a-jwt",
        "Basic dXNlcjpwYXNz",
        "forged",
        "expired",
    ],
)
def test_without_a_valid_token_it_is_the_apis_401(mcp_url, user, authorization):
    now = int(time.time())
    if authorization == "forged":
        forged = sign_token(
            {"sub": user.id, "exp": now + 600}, key="not-the-secret-but-as-long-0123456789"
        )
        authorization = f"Bearer {forged}"
    elif authorization == "expired":
        authorization = f"Bearer {sign_token({'sub': user.id, 'exp': now - 600})}"
    headers = {"Authorization": authorization} if authorization else {}
    rest = APIClient().get(f"/api/{user.id}/tasks", headers=headers)

    response = post(mcp_url, tool_call("list_tasks", {}), **headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.headers["Content-Type"] == "application/json"
    assert rest.status_code == 401
    assert response.json() == rest.json()


def test_the_token_of_a_local_account_works_too(mcp_url):
    registered = APIClient().post(
        "/api/auth/register",
        {"email": "agent@example.com", "password": "correct horse battery staple"},
        format="json",
    )
    assert registered.status_code == 201, registered.json()
    registered = registered.json()
    agent = Agent(mcp_url, registered["access"])

    assert answer_of(agent.call("create_task", title="Mine"))["user_id"] == registered["user"]["id"]


def test_a_better_auth_jwks_token_works_and_provisions_its_user(mcp_url, jwks_server, signing_keys):
    claims = better_auth_claims("baUser0123456789abcdefghijklmnop", jwks_server.base_url)
    agent = Agent(mcp_url, signing_keys["EdDSA"].sign(claims))

    created = answer_of(agent.call("create_task", title="From Better Auth"))

    owner = User.objects.get(pk="baUser0123456789abcdefghijklmnop")
    assert created["user_id"] == owner.pk and owner.email == claims["email"]


def test_both_paths_answer_and_neither_redirects(mcp_url, make_token, user):
    token = make_token(user.id)
    for url in (mcp_url, mcp_url + "/"):
        response = post(url, tool_call("task_stats", {}), token)
        assert response.status_code == 200, url
        assert response.json()["result"]["structuredContent"]["total"] == 0
    assert answer_of(Agent(mcp_url + "/", token).call("task_stats"))["total"] == 0


def test_other_paths_still_go_to_django(mcp_url):
    base = mcp_url.removesuffix("/mcp")

    assert httpx2.get(f"{base}/healthz").json() == {"status": "ok"}
    assert httpx2.get(f"{base}/mcpx").status_code == 404


def test_tool_calls_count_against_the_users_api_rate_limit(
    monkeypatch, mcp_url, owner_client, make_token, user, agent
):
    monkeypatch.setattr(PerUserRateThrottle, "THROTTLE_RATES", {"tasks": "3/min"})
    token = make_token(user.id)
    assert owner_client.get(f"/api/{user.id}/tasks").status_code == 200
    assert post(mcp_url, tool_call("task_stats", {}), token).status_code == 200
    assert owner_client.get(f"/api/{user.id}/tasks").status_code == 200

    refused = post(mcp_url, tool_call("task_stats", {}), token)

    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.json() == owner_client.get(f"/api/{user.id}/tasks").json()
    # Listing the tools is no call: an agent can still see what it may call later.
    assert len(agent.tools()) == len(CONTRACT)


def test_the_legacy_protocol_gets_arrays_wrapped_as_its_structured_content_must_be(agent_for, user):
    TaskFactory(user=user, title="Old client")
    result = agent_for(user, mode="legacy").call("list_tasks")

    assert json.loads(result.content[0].text)[0]["title"] == "Old client"
    assert result.structured_content == {"result": json.loads(result.content[0].text)}


def test_answers_carry_a_request_id(mcp_url, make_token, user):
    token = make_token(user.id)

    echoed = post(mcp_url, tool_call("task_stats", {}), token, **{"X-Request-ID": "agent-7"})
    refused = post(mcp_url, tool_call("task_stats", {}))

    assert echoed.headers["X-Request-ID"] == "agent-7"
    assert len(refused.headers["X-Request-ID"]) == 32


def test_a_body_over_the_limit_is_the_apis_413(mcp_url, make_token, user):
    huge = tool_call("create_task", {"title": "x", "description": "y" * (1024 * 1024)})

    response = post(mcp_url, huge, make_token(user.id))

    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is too large (limit 1 MiB)."}


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
def test_only_post_is_served(mcp_url, make_token, user, method):
    headers = {"Authorization": f"Bearer {make_token(user.id)}", "Accept": "text/event-stream"}

    response = httpx2.request(method, mcp_url, headers=headers, timeout=10)

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.json() == {"detail": f'Method "{method}" not allowed.'}
