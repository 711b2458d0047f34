"""Local accounts with tokens issued by this backend."""

import importlib
import string
import time

import jwt
import pytest
from django.conf import settings
from django.urls import clear_url_caches
from rest_framework.test import APIClient

from accounts.models import User
from accounts.throttles import PerAddressRateThrottle
from tests.conftest import run_concurrently, sign_token
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def register(client: APIClient, **body) -> "APIClient.response":
    return client.post("/api/auth/register", {"password": PASSWORD, **body}, format="json")


def obtain(client: APIClient, email: str, password: str = PASSWORD) -> "APIClient.response":
    return client.post("/api/auth/token", {"email": email, "password": password}, format="json")


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def local_user(db) -> User:
    return User.objects.create_user("ada@example.com", PASSWORD, name="Ada")


def assert_401(response) -> None:
    assert response.status_code == 401
    assert set(response.json()) == {"detail"}


class TestRegister:
    def test_creates_a_user_with_a_generated_id_and_returns_working_tokens(self):
        response = register(APIClient(), email="New.Person@Example.com", name="New")

        assert response.status_code == 201
        body = response.json()
        assert set(body) == {"user", "access", "refresh"}
        user_id = body["user"]["id"]
        assert body["user"] == {"id": user_id, "email": "new.person@example.com", "name": "New"}
        assert len(user_id) == 32 and set(user_id) <= set(string.ascii_letters + string.digits)
        assert User.objects.get(pk=user_id).check_password(PASSWORD)
        client = bearer(body["access"])
        assert client.get(f"/api/{user_id}/tasks").status_code == 200
        assert (
            client.post(f"/api/{user_id}/tasks", {"title": "a"}, format="json").status_code == 201
        )

    def test_name_is_optional(self):
        response = register(APIClient(), email="plain@example.com")

        assert response.status_code == 201
        assert response.json()["user"]["name"] == ""

    @pytest.mark.parametrize("email", ["ada@example.com", "ADA@Example.COM", " ada@example.com "])
    def test_a_taken_email_in_any_casing_is_400_and_creates_nothing(self, local_user, email):
        count = User.objects.count()

        response = register(APIClient(), email=email)

        assert response.status_code == 400
        assert response.json()["errors"] == {"email": ["This email cannot be used to register."]}
        assert User.objects.count() == count

    def test_an_email_held_by_a_better_auth_user_gets_the_same_answer(self, local_user):
        provisioned = UserFactory(email="ba@example.com")
        provisioned.set_unusable_password()
        provisioned.save()

        local = register(APIClient(), email="ada@example.com").json()
        remote = register(APIClient(), email="ba@example.com").json()

        assert local == remote

    @pytest.mark.parametrize(
        "password", ["short1", "password123", "12345678901234", "weird.person@example.com"]
    )
    def test_django_password_validators_apply(self, password):
        response = APIClient().post(
            "/api/auth/register",
            {"email": "weird.person@example.com", "password": password},
            format="json",
        )

        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["password"]
        assert not User.objects.filter(email="weird.person@example.com").exists()

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"password": PASSWORD}, "email"),
            ({"email": "x@example.com"}, "password"),
            ({"email": "not-an-email", "password": PASSWORD}, "email"),
            ({"email": "x@example.com", "password": "a" * 257}, "password"),
            ({"email": "x@example.com", "password": PASSWORD, "name": "n" * 256}, "name"),
            ({"email": "x@example.com", "password": PASSWORD, "name": "a\x00b"}, "name"),
            ({"email": "x@example.com", "password": PASSWORD, "name": None}, "name"),
        ],
    )
    def test_bad_fields_are_400_naming_the_field(self, body, field):
        response = APIClient().post("/api/auth/register", body, format="json")

        assert response.status_code == 400
        assert field in response.json()["errors"]
        assert not User.objects.exists()

    def test_a_form_body_is_415(self):
        response = APIClient().post(
            "/api/auth/register", {"email": "x@example.com", "password": PASSWORD}
        )

        assert response.status_code == 415

    def test_get_is_405(self):
        assert APIClient().get("/api/auth/register").status_code == 405


class TestToken:
    def test_right_credentials_give_access_refresh_and_user_id(self, local_user):
        response = obtain(APIClient(), "ADA@example.com")

        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"access", "refresh", "user_id"}
        assert body["user_id"] == local_user.id
        assert bearer(body["access"]).get(f"/api/{local_user.id}/tasks").status_code == 200

    def test_access_tokens_are_hs256_for_the_user_with_type_and_id(self, local_user):
        access = obtain(APIClient(), local_user.email).json()["access"]

        assert jwt.get_unverified_header(access)["alg"] == "HS256"
        claims = jwt.decode(access, settings.BETTER_AUTH_SECRET, algorithms=["HS256"])
        assert claims["sub"] == local_user.id
        assert claims["token_type"] == "access"
        assert claims["jti"]
        lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()
        assert claims["exp"] - claims["iat"] == lifetime

    def test_wrong_password_and_unknown_email_are_the_same_401(self, local_user):
        wrong_password = obtain(APIClient(), local_user.email, "not the password")
        unknown_email = obtain(APIClient(), "nobody@example.com")

        assert_401(wrong_password)
        assert wrong_password.json() == unknown_email.json()
        assert wrong_password["WWW-Authenticate"].startswith("Bearer")

    def test_a_user_without_a_usable_password_cannot_sign_in(self, user):
        user.set_unusable_password()
        user.save()

        assert_401(obtain(APIClient(), user.email, user.password))
        assert_401(obtain(APIClient(), user.email, "anything"))

    def test_a_deactivated_user_cannot_sign_in(self, local_user):
        local_user.is_active = False
        local_user.save()

        assert_401(obtain(APIClient(), local_user.email))

    @pytest.mark.parametrize(
        "body", [{}, {"email": "ada@example.com"}, {"password": PASSWORD}, {"email": None}]
    )
    def test_missing_fields_are_400(self, local_user, body):
        response = APIClient().post("/api/auth/token", body, format="json")

        assert response.status_code == 400
        assert "errors" in response.json()


class TestRefresh:
    def refresh(self, token) -> "APIClient.response":
        return APIClient().post("/api/auth/token/refresh", {"refresh": token}, format="json")

    def test_a_refresh_token_gives_a_working_access_token(self, local_user):
        tokens = obtain(APIClient(), local_user.email).json()

        response = self.refresh(tokens["refresh"])

        assert response.status_code == 200
        assert set(response.json()) == {"access"}
        access = response.json()["access"]
        assert bearer(access).get(f"/api/{local_user.id}/tasks").status_code == 200

    def test_an_access_token_is_refused(self, local_user):
        access = obtain(APIClient(), local_user.email).json()["access"]

        assert_401(self.refresh(access))

    def test_a_better_auth_token_is_refused(self, local_user, make_token):
        assert_401(self.refresh(make_token(local_user.id)))

    def test_a_forged_refresh_token_is_refused(self, local_user):
        now = int(time.time())
        claims = {"sub": local_user.id, "exp": now + 60, "token_type": "refresh", "jti": "x"}

        assert_401(self.refresh(sign_token(claims, key="another-secret-0123456789abcdefghij")))

    @pytest.mark.parametrize("token", ["garbage", "a.b.c", ""])
    def test_garbage_is_refused(self, token):
        response = self.refresh(token)

        assert response.status_code in (400, 401)
        assert "detail" in response.json()

    @pytest.mark.parametrize("sub", [None, 42, "has space"])
    def test_a_signed_refresh_token_with_a_bad_subject_is_401(self, sub):
        now = int(time.time())
        token = sign_token({"sub": sub, "exp": now + 60, "token_type": "refresh", "jti": "x"})

        assert_401(self.refresh(token))

    def test_a_signed_refresh_token_with_a_string_exp_is_401(self, local_user):
        exp = str(int(time.time()) + 3600)
        claims = {"sub": local_user.id, "exp": exp, "token_type": "refresh", "jti": "x"}

        assert_401(self.refresh(sign_token(claims)))

    def test_a_deleted_users_refresh_token_is_401(self, local_user):
        refresh = obtain(APIClient(), local_user.email).json()["refresh"]
        local_user.delete()

        assert_401(self.refresh(refresh))

    def test_a_deactivated_users_refresh_token_is_401(self, local_user):
        refresh = obtain(APIClient(), local_user.email).json()["refresh"]
        local_user.is_active = False
        local_user.save()

        assert_401(self.refresh(refresh))

    def test_a_refresh_token_is_not_an_access_token(self, local_user):
        refresh = obtain(APIClient(), local_user.email).json()["refresh"]

        assert_401(bearer(refresh).get(f"/api/{local_user.id}/tasks"))
        assert_401(bearer(refresh).get("/api/auth/me"))

    def test_missing_refresh_is_400(self):
        response = APIClient().post("/api/auth/token/refresh", {}, format="json")

        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["refresh"]


class TestMe:
    def test_answers_for_a_local_access_token(self, local_user):
        access = obtain(APIClient(), local_user.email).json()["access"]

        response = bearer(access).get("/api/auth/me")

        assert response.status_code == 200
        assert response.json() == {"id": local_user.id, "email": "ada@example.com", "name": "Ada"}

    def test_answers_for_a_better_auth_token(self, make_token):
        response = bearer(make_token("baUser1", email="B@example.com", name="B")).get(
            "/api/auth/me/"
        )

        assert response.status_code == 200
        assert response.json() == {"id": "baUser1", "email": "b@example.com", "name": "B"}

    def test_without_a_token_is_401(self):
        response = APIClient().get("/api/auth/me")

        assert_401(response)
        assert response["WWW-Authenticate"].startswith("Bearer")


class TestThrottle:
    @pytest.fixture(autouse=True)
    def three_per_minute(self, monkeypatch):
        monkeypatch.setitem(PerAddressRateThrottle.THROTTLE_RATES, "auth", "3/min")

    def test_token_route_is_429_with_retry_after_past_the_rate(self, local_user):
        client = APIClient(REMOTE_ADDR="203.0.113.7")
        statuses = [obtain(client, local_user.email, "wrong").status_code for _ in range(4)]

        assert statuses == [401, 401, 401, 429]
        response = obtain(client, local_user.email)
        assert response.status_code == 429
        assert int(response["Retry-After"]) > 0
        assert set(response.json()) == {"detail"}

    def test_register_draws_on_the_same_budget(self, local_user):
        client = APIClient(REMOTE_ADDR="203.0.113.8")
        for _ in range(3):
            obtain(client, local_user.email, "wrong")

        assert register(client, email="late@example.com").status_code == 429
        assert not User.objects.filter(email="late@example.com").exists()

    def test_another_address_is_not_throttled(self, local_user):
        for _ in range(4):
            obtain(APIClient(REMOTE_ADDR="203.0.113.9"), local_user.email, "wrong")

        assert obtain(APIClient(REMOTE_ADDR="198.51.100.1"), local_user.email).status_code == 200

    def test_a_forwarded_for_header_does_not_buy_a_fresh_address(self, local_user):
        statuses = [
            obtain(
                APIClient(REMOTE_ADDR="203.0.113.10", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}"),
                local_user.email,
                "wrong",
            ).status_code
            for n in range(4)
        ]

        assert statuses[-1] == 429

    def test_behind_one_proxy_each_forwarded_client_has_its_own_budget(self, local_user, settings):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

        def attempt(client_address: str) -> int:
            # What nginx sends: the proxy is the peer, the client the last X-Forwarded-For hop.
            client = APIClient(
                REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"6.6.6.6, {client_address}"
            )
            return obtain(client, local_user.email, "wrong").status_code

        first = [attempt("203.0.113.30") for _ in range(4)]

        assert first[-1] == 429
        assert attempt("198.51.100.30") == 401

    def test_concurrent_attempts_never_get_past_the_rate(self, monkeypatch):
        monkeypatch.setitem(PerAddressRateThrottle.THROTTLE_RATES, "auth", "10/min")

        # Refreshing a garbage token is refused without touching the database, so a hundred
        # threads race on nothing but the counter.
        def attempt(n: int) -> int:
            client = APIClient(REMOTE_ADDR="203.0.113.11")
            return client.post(
                "/api/auth/token/refresh", {"refresh": "x"}, format="json"
            ).status_code

        statuses = run_concurrently(100, attempt)

        assert statuses.count(401) == 10
        assert statuses.count(429) == 90


@pytest.fixture
def local_auth_disabled(settings):
    """The URLconf as a deployment with LOCAL_AUTH_ENABLED=false builds it at import time."""
    import accounts.urls
    import config.urls

    def rebuild() -> None:
        importlib.reload(accounts.urls)
        importlib.reload(config.urls)
        clear_url_caches()

    settings.LOCAL_AUTH_ENABLED = False
    rebuild()
    yield
    settings.LOCAL_AUTH_ENABLED = True
    rebuild()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/auth/register"),
        ("post", "/api/auth/token"),
        ("post", "/api/auth/token/refresh"),
        ("get", "/api/auth/me"),
    ],
)
def test_routes_are_json_404s_when_local_auth_is_disabled(
    local_auth_disabled, local_user, make_token, method, path
):
    client = bearer(make_token(local_user.id))

    response = getattr(client, method)(path, {"email": local_user.email, "password": PASSWORD})

    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_routes_are_back_once_local_auth_is_enabled_again(local_user):
    assert obtain(APIClient(), local_user.email).status_code == 200
