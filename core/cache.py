"""The shared cache: django-redis behind a circuit breaker.

A Redis outage must slow the service down, not break it. django-redis already turns connection
errors into cache misses (`IGNORE_EXCEPTIONS`), but alone it would still pay a connection
timeout on every cache call of every request while Redis is unreachable, and log each one.
Here the first failure opens the breaker: for `CACHE_RETRY_SECONDS` every cache call is a miss
at once, without touching the network, and one warning is logged. After that the next call
tries Redis again; when it answers, caching resumes with no restart.

Nothing stale can be read after an outage: cached task reads are keyed by the owner's
`tasks_version`, which lives in the database (see `tasks/caching.py`).
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


class CircuitBreaker:
    """Open for `retry_seconds` after a failure; thread-safe enough for a flag and a time."""

    def __init__(self, retry_seconds: float) -> None:
        self.retry_seconds = retry_seconds
        self.open_until = 0.0
        self.lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self.open_until

    def trip(self, error: Exception) -> None:
        with self.lock:
            if self.is_open:
                return
            self.open_until = time.monotonic() + self.retry_seconds
        logger.warning(
            "Cache unavailable (%s); serving from the database, retrying in %ss.",
            error,
            self.retry_seconds,
        )

    def close(self) -> None:
        if self.open_until:
            with self.lock:
                was_open, self.open_until = self.open_until, 0.0
            if was_open:
                logger.info("Cache available again.")


class GuardedClient:
    """Forwards to django-redis's client, short-circuiting while the breaker is open."""

    def __init__(self, client: Any, breaker: CircuitBreaker) -> None:
        self._client = client
        self._breaker = breaker

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute
        return self._guard(attribute)

    def _guard(self, method: Callable[..., Any]) -> Callable[..., Any]:
        breaker = self._breaker

        def guarded(*args: Any, **kwargs: Any) -> Any:
            if breaker.is_open:
                raise ConnectionInterrupted(connection=None)
            try:
                result = method(*args, **kwargs)
            except ConnectionInterrupted as error:
                breaker.trip(error)
                raise
            breaker.close()
            return result

        return guarded


# Django builds a cache object per thread; the breaker is per server and process, so one
# outage is noticed, and logged, once per process.
breakers: dict[str, CircuitBreaker] = {}


class ResilientRedisCache(RedisCache):
    """django-redis's cache with a circuit breaker; configure `IGNORE_EXCEPTIONS: True`."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        retry_seconds = params.get("OPTIONS", {}).get("RETRY_SECONDS", 5)
        self.breaker = breakers.setdefault(server, CircuitBreaker(retry_seconds))
        self._guarded_client: GuardedClient | None = None

    @property
    def client(self) -> Any:
        if self._guarded_client is None:
            self._guarded_client = GuardedClient(super().client, self.breaker)
        return self._guarded_client

    def count_and_get(self, counter: str, lifetime: int, key: str | None) -> tuple[int | None, Any]:
        """`count_and_get` in one round trip: a pipeline of a SET NX that starts the counter
        with its lifetime, the INCR and the GET."""
        if self.breaker.is_open:
            return None, None
        client = self.client.get_client(write=True)
        pipeline = client.pipeline(transaction=False)
        counter_key = self.make_key(counter)
        pipeline.set(counter_key, 0, ex=lifetime, nx=True)
        pipeline.incr(counter_key)
        if key is not None:
            pipeline.get(self.make_key(key))
        try:
            _, count, *value = pipeline.execute()
        except RedisError as error:
            self.breaker.trip(error)
            return None, None
        self.breaker.close()
        return count, self.client.decode(value[0]) if value and value[0] is not None else None


def count_and_get(counter: str, lifetime: int, key: str | None = None) -> tuple[int | None, Any]:
    """Add one to `counter`, which a first increment creates to live `lifetime` seconds, and
    read `key` (when given) with it: (the new count, `key`'s value or None). On Redis both go
    in one round trip, so a rate-limited cached read pays one. The count is None while the
    cache does not answer."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, ResilientRedisCache):
        return backend.count_and_get(counter, lifetime, key)
    return count(backend, counter, lifetime), backend.get(key) if key is not None else None


def count(backend: BaseCache, counter: str, lifetime: int) -> int | None:
    try:
        return backend.incr(counter)
    except ValueError:  # the first increment
        if backend.add(counter, 1, lifetime):
            return 1
        try:
            return backend.incr(counter)
        except ValueError:
            return None
