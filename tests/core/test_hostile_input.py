"""Input crafted to break a parser, a database or a log gets a 4xx or is defused, never a 500."""

import time

import pytest

from accounts.models import User
from tasks.models import Task

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"title": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"title": "\\ud800"}',
        '{"title": "ok", "priority": "\\udfff"}',
        '{"title": NaN}',
    ],
)
def test_hostile_json_is_a_400(owner_client, user, body):
    response = owner_client.post(f"/api/{user.id}/tasks", body, content_type="application/json")

    assert response.status_code == 400
    assert "detail" in response.json()
    assert not Task.objects.exists()


def nested(depth: int) -> str:
    return '{"title": ' + "[" * depth + "]" * depth + "}"


# orjson accepts up to 1024 levels; DRF's validation and json.dumps would recurse past
# Python's limit on them, so the parser refuses anything past 64.
@pytest.mark.parametrize("depth", [65, 960, 1000, 1023])
@pytest.mark.parametrize(
    "path, field, headers",
    [
        ("/api/{user}/tasks", "title", {}),
        ("/api/{user}/tasks", "title", {"HTTP_IDEMPOTENCY_KEY": "deep-1"}),
        ("/api/{user}/tasks/bulk", "ids", {}),
        ("/api/auth/register", "email", {}),
        ("/api/auth/token", "password", {}),
        ("/api/auth/token/refresh", "refresh", {}),
    ],
)
def test_json_nested_past_the_limit_is_a_400(owner_client, user, depth, path, field, headers):
    body = nested(depth).replace('"title"', f'"{field}"')

    response = owner_client.post(
        path.format(user=user.id), body, content_type="application/json", **headers
    )

    assert response.status_code == 400
    assert "nested deeper than 64" in response.json()["detail"]


def test_json_nested_up_to_the_limit_is_parsed(owner_client, user):
    response = owner_client.post(
        f"/api/{user.id}/tasks", nested(63), content_type="application/json"
    )

    assert response.status_code == 400
    assert "title" in response.json()["errors"]


def test_a_lone_surrogate_in_a_bulk_action_is_a_400(owner_client, user):
    response = owner_client.post(
        f"/api/{user.id}/tasks/bulk",
        '{"action": "\\ud800", "ids": [1]}',
        content_type="application/json",
    )

    assert response.status_code == 400


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
@pytest.mark.parametrize("parameter", ["due_before", "due_after"])
def test_datetimes_at_the_edge_of_the_calendar_are_a_400(owner_client, user, parameter, value):
    response = owner_client.get(f"/api/{user.id}/tasks", {parameter: value})

    assert response.status_code == 400
    assert parameter in response.json()["errors"]


def test_nul_in_name_and_email_claims_does_not_stop_the_user(make_token, client):
    now = int(time.time())
    token = make_token("nul-user", name="Ada\x00Lovelace", email="a\x00@example.com", iat=now)

    response = client.get("/api/nul-user/tasks", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200
    assert User.objects.get(pk="nul-user").name == "AdaLovelace"


def test_lone_surrogates_in_name_and_email_claims_do_not_stop_the_user(make_token, client):
    token = make_token("surrogate-user", name="Ann \ud800", email="ann\udfff@example.com")

    first = client.get("/api/surrogate-user/tasks", HTTP_AUTHORIZATION=f"Bearer {token}")
    again = client.get("/api/surrogate-user/tasks", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert (first.status_code, again.status_code) == (200, 200)
    stored = User.objects.get(pk="surrogate-user")
    assert (stored.name, stored.email) == ("Ann ", "ann@example.com")
