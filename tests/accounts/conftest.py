import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def fresh_throttle_counters():
    """Throttle counters live in the shared cache; each test starts with none spent."""
    cache.clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The production hasher is slow on purpose; these tests check logic, not its cost."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
