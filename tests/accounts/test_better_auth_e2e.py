"""End to end: tokens from a real Better Auth server (its jwt() plugin with the default
options, and its bearer() plugin) against this API, through the JWKS it publishes.

Needs Node.js and npm (the harness runs `npm ci` itself) and PostgreSQL for Better Auth:
`BA_E2E_DATABASE_URL`, else a `better_auth_e2e` database on the server `DATABASE_URL` points
at. Skips, saying why, when Node is missing, no PostgreSQL is named or none answers, or the
npm registry is unreachable; `BA_E2E_REQUIRED=1` (as in CI) turns those skips into failures.
Nothing is installed or created before PostgreSQL is known to answer.
"""

import os
import secrets
from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from accounts.jwks import key_sets
from accounts.models import User
from tests.accounts.test_authentication import assert_unauthorized, get_tasks
from tests.betterauth.harness import (
    AuthResult,
    BetterAuthServer,
    RegistryUnreachableError,
    decode_jwt_unverified,
    e2e_database_url,
    node_available,
    postgresql_unreachable,
)

pytestmark = pytest.mark.django_db


def skip_or_fail(reason: str) -> None:
    if os.environ.get("BA_E2E_REQUIRED") == "1":
        pytest.fail(f"BA_E2E_REQUIRED=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def better_auth() -> Iterator[BetterAuthServer]:
    if not node_available():
        skip_or_fail("node/npm are not on PATH")
    database_url = e2e_database_url()
    if database_url is None:
        skip_or_fail(
            "Better Auth needs PostgreSQL: set DATABASE_URL (or BA_E2E_DATABASE_URL) to one"
        )
    if reason := postgresql_unreachable(database_url):
        skip_or_fail(f"{reason}: start it, or point BA_E2E_DATABASE_URL at one that runs")
    try:
        with BetterAuthServer(database_url=database_url) as server:
            yield server
    except RegistryUnreachableError as exc:
        skip_or_fail(f"the npm registry is unreachable: {exc}")


@pytest.fixture
def api_trusts(better_auth, settings, jwt_settings) -> BetterAuthServer:
    """The API in JWKS-only mode, trusting this Better Auth with its default iss and aud."""
    settings.BETTER_AUTH_SECRET = ""
    settings.BETTER_AUTH_JWKS_URL = better_auth.jwks_url
    jwt_settings(ISSUER=better_auth.issuer, AUDIENCE=better_auth.audience)
    key_sets.forget(better_auth.jwks_url)
    yield better_auth
    key_sets.forget(better_auth.jwks_url)


def sign_up(better_auth: BetterAuthServer, name: str) -> AuthResult:
    email = f"{name.lower()}-{secrets.token_hex(4)}@example.com"
    return better_auth.sign_up(email, "correct-horse-battery-staple", name)


def test_a_real_better_auth_jwt_is_accepted_for_its_own_user(api_trusts):
    alice = sign_up(api_trusts, "Alice")
    header, _ = decode_jwt_unverified(alice["jwt"])
    assert header["alg"] == "EdDSA" and "typ" not in header

    response = get_tasks(alice["user_id"], f"Bearer {alice['jwt']}")

    assert response.status_code == 200
    assert response.json() == []
    provisioned = User.objects.get(pk=alice["user_id"])
    assert (provisioned.email, provisioned.name) == (alice["user"]["email"], "Alice")


def test_a_real_better_auth_jwt_is_403_on_another_users_path(api_trusts):
    alice, bob = sign_up(api_trusts, "Alice"), sign_up(api_trusts, "Bob")

    response = get_tasks(bob["user_id"], f"Bearer {alice['jwt']}")

    assert response.status_code == 403


def test_a_real_jwt_can_create_its_users_task(api_trusts):
    alice = sign_up(api_trusts, "Alice")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {alice['jwt']}")

    created = client.post(f"/api/{alice['user_id']}/tasks", {"title": "Buy milk"}, format="json")

    assert created.status_code == 201
    assert created.json()["user_id"] == alice["user_id"]


@pytest.mark.parametrize("kind", ["session_token", "bearer_token"])
def test_better_auth_session_and_bearer_tokens_are_401(api_trusts, kind):
    alice = sign_up(api_trusts, "Alice")

    assert_unauthorized(get_tasks(alice["user_id"], f"Bearer {alice[kind]}"))


@pytest.mark.parametrize(
    ("database_url", "explicit", "expected"),
    [
        (
            "postgresql://app:pw@db.internal:6543/todo?sslmode=require",
            "",
            "postgresql://app:pw@db.internal:6543/better_auth_e2e?sslmode=require",
        ),
        ("sqlite:///db.sqlite3", "", None),
        ("", "", None),
        ("sqlite:///db.sqlite3", "postgres://ba@127.0.0.1/ba", "postgres://ba@127.0.0.1/ba"),
    ],
)
def test_the_e2e_database_is_only_ever_on_a_server_the_environment_names(
    monkeypatch, database_url, explicit, expected
):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("BA_E2E_DATABASE_URL", explicit)

    assert e2e_database_url() == expected


def test_a_closed_port_is_reported_without_waiting():
    reason = postgresql_unreachable("postgresql://postgres@127.0.0.1:1/x", timeout=1)

    assert reason == "PostgreSQL at 127.0.0.1:1 does not answer (Connection refused)"
