"""/healthz and /readyz: public probes that say what failed."""

import pytest
from django.db import OperationalError
from rest_framework.test import APIClient

from core import health

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": 0.2,
            "SOCKET_TIMEOUT": 0.2,
        },
    }
}


class BrokenConnection:
    def cursor(self):
        raise OperationalError("connection refused")


@pytest.mark.parametrize("url", ["/healthz", "/healthz/"])
def test_health_is_ok_without_touching_the_database(url, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = APIClient().get(url)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["X-Request-ID"]


@pytest.mark.parametrize("url", ["/readyz", "/readyz/"])
def test_ready_when_database_and_cache_answer(url):
    response = APIClient().get(url)

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


def test_not_ready_names_the_database_when_it_fails(monkeypatch):
    monkeypatch.setattr(health, "connection", BrokenConnection())

    response = APIClient().get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "failed", "cache": "ok"},
        "detail": "Not ready: database failed.",
    }


def test_not_ready_names_the_cache_when_redis_is_down(settings):
    settings.CACHES = UNREACHABLE_REDIS

    response = APIClient().get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "failed"}
    assert response.json()["detail"] == "Not ready: cache failed."


def test_probes_ignore_a_bad_bearer_token():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_probes_answer_plain_http_when_https_is_enforced(settings, user):
    settings.SECURE_SSL_REDIRECT = True
    client = APIClient()

    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get(f"/api/{user.id}/tasks").status_code == 301
