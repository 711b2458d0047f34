"""`Idempotency-Key` on POST: a retry replays the first response and creates nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tasks.models import IdempotencyRecord, Task
from tests.conftest import requires_postgresql, run_concurrently

pytestmark = pytest.mark.django_db


def post(client, user, body, key):
    return client.post(f"/api/{user.id}/tasks", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_replay_returns_the_first_response_and_creates_nothing(owner_client, user):
    first = post(owner_client, user, {"title": "Pay rent"}, "key-1")
    again = post(owner_client, user, {"title": "Pay rent"}, "key-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert Task.objects.count() == 1


def test_the_same_key_with_another_body_is_422(owner_client, user):
    post(owner_client, user, {"title": "Pay rent"}, "key-1")

    response = post(owner_client, user, {"title": "Pay more rent"}, "key-1")

    assert response.status_code == 422
    assert "detail" in response.json()
    assert Task.objects.count() == 1


def test_keys_belong_to_one_user(owner_client, user, other_user, client_for):
    post(owner_client, user, {"title": "mine"}, "shared-key")

    response = post(client_for(other_user), other_user, {"title": "mine"}, "shared-key")

    assert response.status_code == 201
    assert Task.objects.filter(user=other_user).count() == 1


def test_a_rejected_create_does_not_use_up_the_key(owner_client, user):
    assert post(owner_client, user, {"title": ""}, "key-1").status_code == 400

    response = post(owner_client, user, {"title": "fixed"}, "key-1")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response


def test_a_key_older_than_24_hours_is_forgotten(owner_client, user):
    post(owner_client, user, {"title": "Pay rent"}, "monthly")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))

    response = post(owner_client, user, {"title": "Pay rent"}, "monthly")

    assert "Idempotent-Replayed" not in response
    assert Task.objects.count() == 2


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "caf\u00e9"])
def test_a_malformed_key_is_400_naming_the_header(owner_client, user, key):
    response = post(owner_client, user, {"title": "x"}, key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert not Task.objects.exists()


def test_without_a_key_every_post_creates(owner_client, user):
    for _ in range(2):
        owner_client.post(f"/api/{user.id}/tasks", {"title": "x"}, format="json")

    assert Task.objects.count() == 2


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_create_exactly_one_task(user, client_for):
    clients = [client_for(user) for _ in range(6)]

    responses = run_concurrently(6, lambda n: post(clients[n], user, {"title": "once"}, "race-key"))

    assert [r.status_code for r in responses] == [201] * 6
    assert len({r.json()["id"] for r in responses}) == 1
    assert Task.objects.filter(user=user).count() == 1


def test_a_users_expired_keys_are_deleted_when_they_post_again(owner_client, user):
    post(owner_client, user, {"title": "old"}, "old-key")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))

    post(owner_client, user, {"title": "new"}, "new-key")

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new-key"]
