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
