import runpy
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections
from rest_framework.test import APIClient

from accounts.jwks import key_sets
from accounts.models import User
from tests.factories import TaskFactory, UserFactory
from tests.jwks_server import JWKSServer, SigningKey

TokenMaker = Callable[..., str]


def sign_token(claims: dict[str, Any], key: str | bytes | None = None, **kwargs: Any) -> str:
    """A token as a Better Auth frontend would send it: HS256 over the shared secret."""
    return jwt.encode(claims, key or settings.BETTER_AUTH_SECRET, algorithm="HS256", **kwargs)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The production hasher is slow on purpose; the tests check logic, not its cost."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache, also when it is a real Redis shared by the run."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_token() -> TokenMaker:
    """`make_token(sub, **claims)`: a valid token for `sub`; claims override or add."""

    def make(sub: Any, **claims: Any) -> str:
        now = int(time.time())
        return sign_token({"sub": sub, "iat": now, "exp": now + 900, **claims})

    return make


@pytest.fixture
def jwt_settings(settings) -> Callable[..., None]:
    """`jwt_settings(ISSUER=..., AUDIENCE=...)`: change SIMPLE_JWT for one test.

    Token verification reads its settings lazily and is rebuilt when they change
    (accounts/tokens.py), so overriding settings is all a test needs.
    """

    def override(**values: Any) -> None:
        settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, **values}

    return override


@pytest.fixture(scope="session")
def signing_keys() -> dict[str, SigningKey]:
    """One key per algorithm Better Auth's jwt() plugin offers, by algorithm name."""
    return {alg: SigningKey.generate(alg) for alg in ("EdDSA", "ES256", "ES512", "RS256", "PS256")}


@pytest.fixture
def jwks_server(settings, signing_keys: dict[str, SigningKey]) -> Iterator[JWKSServer]:
    """A JWKS endpoint on loopback publishing `signing_keys`, and the API verifying with it.

    Pointing `BETTER_AUTH_JWKS_URL` at it is all it takes: the token backend is rebuilt when
    that setting changes. Its cached key sets are forgotten before and after the test.
    """
    with JWKSServer() as server:
        server.publish(*signing_keys.values())
        settings.BETTER_AUTH_JWKS_URL = server.url
        key_sets.forget(server.url)
        yield server
        key_sets.forget(server.url)


@pytest.fixture
def user(db) -> User:
    return UserFactory()


@pytest.fixture
def other_user(db) -> User:
    return UserFactory()


@pytest.fixture
def client_for(make_token: TokenMaker) -> Callable[[User], APIClient]:
    def make(user: User) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(user.id)}")
        return client

    return make


@pytest.fixture
def owner_client(user: User, client_for: Callable[[User], APIClient]) -> APIClient:
    return client_for(user)


@pytest.fixture
def task(user: User):
    return TaskFactory(user=user)


requires_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (real concurrent transactions or its indexes): set DATABASE_URL",
)


def run_concurrently(count: int, action: Callable[[int], Any]) -> list[Any]:
    """`action(0)` ... `action(count - 1)` in as many threads, released at the same moment.

    Each thread's database connection is closed when it ends, so that the test database can be
    dropped afterwards. Results come back in completion order.
    """
    barrier = threading.Barrier(count)
    results: list[Any] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            results.append(action(n))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


SETTINGS_FILE = Path(__file__).resolve().parents[1] / "config" / "settings.py"
TOKEN_VARIABLES = [
    "BETTER_AUTH_SECRET",
    "BETTER_AUTH_URL",
    "BETTER_AUTH_JWKS_URL",
    "JWT_ALGORITHMS",
    "JWKS_FETCH_TIMEOUT_SECONDS",
]


@pytest.fixture
def load_settings(monkeypatch):
    """`load_settings(**env)`: config/settings.py's values for this environment (DEBUG off)."""

    # A developer's .env must not leak into these environments.
    monkeypatch.setenv("READ_DOTENV", "false")

    def load(**env: str) -> dict:
        for name in TOKEN_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("DEBUG", "false")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(SETTINGS_FILE))

    return load


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def private_redis() -> Iterator[tuple[int, subprocess.Popen]]:
    """A redis-server of this test's own, which the test may pause and resume."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield port, process
    process.send_signal(signal.SIGCONT)
    process.terminate()
    process.wait(timeout=10)
