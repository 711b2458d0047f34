"""A Redis outage slows the service down but never breaks it or serves stale tasks."""

import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from core import cache as resilient_cache
from tests.conftest import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def use_redis_at(settings):
    """Point the default cache at `url`, with short timeouts and a short breaker interval."""

    def use(url: str, retry_seconds: float = 30) -> None:
        resilient_cache.breakers.clear()
        settings.CACHES = {
            "default": {
                "BACKEND": "core.cache.ResilientRedisCache",
                "LOCATION": url,
                "OPTIONS": {
                    "IGNORE_EXCEPTIONS": True,
                    "SOCKET_CONNECT_TIMEOUT": 0.2,
                    "SOCKET_TIMEOUT": 0.2,
                    "RETRY_SECONDS": retry_seconds,
                },
            }
        }

    yield use
    resilient_cache.breakers.clear()


@pytest.fixture
def black_hole() -> Iterator[tuple[int, list[socket.socket]]]:
    """A loopback server that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept_forever() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept_forever, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()
    for connection in accepted:
        connection.close()


def exercise_every_route(client, user) -> list[int]:
    base = f"/api/{user.id}/tasks"
    created = client.post(base, {"title": "during outage"}, format="json")
    url = f"{base}/{created.json()['id']}"
    return [
        created.status_code,
        client.get(base).status_code,
        client.get(url).status_code,
        client.put(url, {"title": "put"}, format="json").status_code,
        client.patch(url, {"title": "patch"}, format="json").status_code,
        client.patch(f"{url}/complete").status_code,
        client.post(base, {"title": "k"}, format="json", HTTP_IDEMPOTENCY_KEY="k1").status_code,
        client.delete(url).status_code,
    ]


def cache_warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "core.cache" and r.levelname == "WARNING"]


def test_every_route_works_while_redis_refuses_connections(
    use_redis_at, owner_client, user, caplog
):
    use_redis_at(f"redis://127.0.0.1:{free_port()}/0")

    with caplog.at_level(logging.WARNING, logger="core.cache"):
        statuses = exercise_every_route(owner_client, user) + exercise_every_route(
            owner_client, user
        )

    assert statuses == [201, 200, 200, 200, 200, 200, 201, 204] * 2
    assert len(cache_warnings(caplog)) == 1


def test_a_black_holed_redis_is_tried_once_per_interval(
    use_redis_at, black_hole, owner_client, user
):
    port, accepted = black_hole
    use_redis_at(f"redis://127.0.0.1:{port}/0")

    statuses = exercise_every_route(owner_client, user)

    assert statuses == [201, 200, 200, 200, 200, 200, 201, 204]
    assert len(accepted) == 1


def test_caching_resumes_when_redis_returns_and_nothing_stale_is_served(
    use_redis_at, private_redis, owner_client, user, task, django_assert_num_queries
):
    port, redis_server = private_redis
    use_redis_at(f"redis://127.0.0.1:{port}/0", retry_seconds=0.3)
    list_url = f"/api/{user.id}/tasks"
    owner_client.get(list_url)
    owner_client.get(f"{list_url}/{task.id}")

    redis_server.send_signal(signal.SIGSTOP)
    owner_client.patch(
        f"{list_url}/{task.id}", {"title": "written during the outage"}, format="json"
    )
    assert owner_client.get(list_url).json()[0]["title"] == "written during the outage"
    redis_server.send_signal(signal.SIGCONT)
    time.sleep(0.4)  # let the breaker's retry interval pass

    assert redis.Redis(port=port).dbsize() > 0, "the old entries are still there"
    assert owner_client.get(list_url).json()[0]["title"] == "written during the outage"
    detail = owner_client.get(f"{list_url}/{task.id}").json()
    assert detail["title"] == "written during the outage"
    with django_assert_num_queries(1):
        owner_client.get(list_url)
