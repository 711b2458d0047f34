import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import TaskFactory, UserFactory

TokenMaker = Callable[..., str]


def sign_token(claims: dict[str, Any], key: str | bytes | None = None, **kwargs: Any) -> str:
    """A token as a Better Auth frontend would send it: HS256 over the shared secret."""
    return jwt.encode(claims, key or settings.BETTER_AUTH_SECRET, algorithm="HS256", **kwargs)


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
