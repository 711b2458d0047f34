"""Per-user rate limits on /api/{user_id}/...."""

import pytest
from django.conf import settings
from django.core.cache import cache

from accounts.throttles import PerUserRateThrottle

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_per_minute(monkeypatch):
    monkeypatch.setattr(PerUserRateThrottle, "THROTTLE_RATES", {"tasks": "3/min"})


def test_the_request_over_the_limit_is_429_with_retry_after(three_per_minute, owner_client, user):
    statuses = [owner_client.get(f"/api/{user.id}/tasks").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    response = owner_client.get(f"/api/{user.id}/tasks")
    assert 0 < int(response["Retry-After"]) <= 60
    assert set(response.json()) == {"detail"}


def test_limits_are_per_user(three_per_minute, owner_client, user, other_user, client_for):
    for _ in range(4):
        owner_client.get(f"/api/{user.id}/tasks")

    assert client_for(other_user).get(f"/api/{other_user.id}/tasks").status_code == 200


def test_writes_count_too(three_per_minute, owner_client, user):
    for _ in range(3):
        owner_client.post(f"/api/{user.id}/tasks", {"title": "x"}, format="json")

    response = owner_client.post(f"/api/{user.id}/tasks", {"title": "x"}, format="json")

    assert response.status_code == 429


def test_an_off_rate_disables_the_limit(monkeypatch, owner_client, user):
    monkeypatch.setattr(PerUserRateThrottle, "THROTTLE_RATES", {"tasks": None})

    statuses = {owner_client.get(f"/api/{user.id}/tasks").status_code for _ in range(5)}

    assert statuses == {200}


@pytest.mark.skipif(not settings.REDIS_URL, reason="reads the counter in Redis: set REDIS_URL")
def test_the_windows_counter_expires_with_its_window(owner_client, user):
    owner_client.get(f"/api/{user.id}/tasks")
    owner_client.get(f"/api/{user.id}/tasks")

    redis = cache.client.get_client()
    [counter] = redis.keys(f"*throttle_tasks_{user.id}:*")
    assert int(redis.get(counter)) == 2
    assert 0 < redis.ttl(counter) <= 61
