"""Who gets in with which token, and what happens to everyone else."""

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts import tokens
from accounts.models import User
from tests.conftest import requires_postgresql, run_concurrently, sign_token
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def get_tasks(user_id: str, authorization: str | None) -> "APIClient.response":
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client.get(f"/api/{user_id}/tasks")


def assert_unauthorized(response) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str)


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class TestRejected:
    def test_no_header_is_401(self, user):
        assert_unauthorized(get_tasks(user.id, None))

    @pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Token abc", "bearer", ""])
    def test_other_schemes_and_empty_headers_are_401(self, user, header):
        assert_unauthorized(get_tasks(user.id, header))

    @pytest.mark.parametrize(
        "raw",
        ["garbage", "a.b.c", "Bearer x y", "eyJhbGciOiJIUzI1NiJ9..", "\u00e9\u00e9", "x" * 16384],
    )
    def test_malformed_tokens_are_401(self, user, raw):
        assert_unauthorized(get_tasks(user.id, f"Bearer {raw}"))

    @pytest.mark.parametrize("header", ["eyJhbGciOiJIUzI1NiJ9.e30.x", "Token abc", "bearer x"])
    def test_a_token_without_the_bearer_scheme_says_to_use_it(self, user, header):
        response = get_tasks(user.id, header)

        assert_unauthorized(response)
        assert response.json()["detail"] == "The Authorization header must be 'Bearer <token>'."

    def test_bearer_without_a_token_is_401(self, user):
        assert_unauthorized(get_tasks(user.id, "Bearer"))

    def test_wrong_secret_is_401(self, user):
        now = int(time.time())
        token = sign_token(
            {"sub": user.id, "exp": now + 60}, key="not-the-secret-0123456789abcdefghijkl"
        )

        assert_unauthorized(get_tasks(user.id, f"Bearer {token}"))

    def test_payload_tampered_after_signing_is_401(self, user, other_user, make_token):
        header, _, signature = make_token(other_user.id).split(".")
        forged = f"{header}.{b64({'sub': user.id, 'exp': int(time.time()) + 60})}.{signature}"

        assert_unauthorized(get_tasks(user.id, f"Bearer {forged}"))

    @pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
    def test_alg_none_is_401_in_any_casing(self, user, alg):
        claims = {"sub": user.id, "exp": int(time.time()) + 60}
        token = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims)}."

        assert_unauthorized(get_tasks(user.id, f"Bearer {token}"))

    def test_expired_beyond_leeway_is_401(self, user, make_token):
        token = make_token(user.id, exp=int(time.time()) - 31)

        assert_unauthorized(get_tasks(user.id, f"Bearer {token}"))

    def test_expired_within_leeway_is_accepted(self, user, make_token):
        token = make_token(user.id, exp=int(time.time()) - 10)

        assert get_tasks(user.id, f"Bearer {token}").status_code == 200

    @pytest.mark.parametrize("claim", ["nbf", "iat"])
    def test_not_yet_valid_beyond_leeway_is_401(self, user, make_token, claim):
        token = make_token(user.id, **{claim: int(time.time()) + 120})

        assert_unauthorized(get_tasks(user.id, f"Bearer {token}"))

    @pytest.mark.parametrize("claim", ["nbf", "iat"])
    def test_slightly_future_times_within_leeway_are_accepted(self, user, make_token, claim):
        token = make_token(user.id, **{claim: int(time.time()) + 10})

        assert get_tasks(user.id, f"Bearer {token}").status_code == 200

    def test_missing_exp_is_401(self, user):
        token = sign_token({"sub": user.id, "iat": int(time.time())})

        assert_unauthorized(get_tasks(user.id, f"Bearer {token}"))

    @pytest.mark.parametrize("exp", [10**20, "tomorrow", -(10**20)])
    def test_absurd_exp_is_401(self, user, exp):
        token = sign_token({"sub": user.id, "exp": exp})

        assert_unauthorized(get_tasks(user.id, f"Bearer {token}"))

    @pytest.mark.parametrize(
        "claims",
        [{"exp": "+3600"}, {"exp": True}, {"nbf": "-60"}, {"iat": "-60"}, {"exp": ["+3600"]}],
    )
    def test_a_time_claim_that_is_not_a_number_is_401(self, user, claims):
        now = int(time.time())
        # A string that int() reads as a time an hour away: PyJWT accepts it, RFC 7519 not.
        times = {
            name: str(now + int(value)) if isinstance(value, str) else value
            for name, value in claims.items()
        }
        token = sign_token({"sub": user.id, "exp": now + 60, **times})

        assert_unauthorized(get_tasks(user.id, f"Bearer {token}"))

    def test_missing_sub_is_401(self, user):
        token = sign_token({"exp": int(time.time()) + 60})

        assert_unauthorized(get_tasks(user.id, f"Bearer {token}"))

    @pytest.mark.parametrize(
        "sub", [123, None, ["a"], {"id": "a"}, "", "has space", "../etc", "x" * 129, "é"]
    )
    def test_malformed_sub_is_401_and_creates_nobody(self, make_token, sub):
        count = User.objects.count()
        token = make_token(sub)

        assert_unauthorized(get_tasks("someone", f"Bearer {token}"))
        assert User.objects.count() == count

    def test_refresh_tokens_are_not_access_tokens(self, user, make_token):
        token = make_token(user.id, token_type="refresh")

        assert_unauthorized(get_tasks(user.id, f"Bearer {token}"))

    def test_deactivated_user_is_401(self, user, make_token):
        user.is_active = False
        user.save()

        assert_unauthorized(get_tasks(user.id, f"Bearer {make_token(user.id)}"))

    @pytest.mark.parametrize(
        ("setting", "value", "claim"),
        [("ISSUER", "https://auth.example.com", "iss"), ("AUDIENCE", "todo-api", "aud")],
    )
    def test_wrong_or_missing_iss_and_aud_are_401_when_configured(
        self, user, make_token, jwt_settings, setting, value, claim
    ):
        jwt_settings(**{setting: value})

        assert_unauthorized(get_tasks(user.id, f"Bearer {make_token(user.id)}"))
        wrong = make_token(user.id, **{claim: "https://elsewhere.example.com"})
        assert_unauthorized(get_tasks(user.id, f"Bearer {wrong}"))
        right = make_token(user.id, **{claim: value})
        assert get_tasks(user.id, f"Bearer {right}").status_code == 200


class TestAccepted:
    def test_better_auth_style_token_without_jti_or_type_is_accepted(self, user):
        now = int(time.time())
        token = sign_token(
            {"sub": user.id, "iat": now, "exp": now + 900, "email": user.email, "name": "A"}
        )

        response = get_tasks(user.id, f"Bearer {token}")

        assert response.status_code == 200

    @pytest.mark.parametrize(
        "user_id",
        [
            "gY3kPqZ8mN2xR7tL5vW9bC4dF6hJ1kA0",
            "0b6a5f2e-3c1d-4e8f-9a7b-2c4d6e8f0a1b",
            "a",
            "x_y-Z" * 25,
        ],
    )
    def test_first_token_for_an_unknown_sub_creates_the_user_with_its_claims(
        self, make_token, user_id
    ):
        token = make_token(user_id, email="New.Person@Example.com", name="New Person")

        response = get_tasks(user_id, f"Bearer {token}")

        assert response.status_code == 200
        created = User.objects.get(pk=user_id)
        assert (created.email, created.name) == ("new.person@example.com", "New Person")
        assert not created.has_usable_password()
        assert not created.is_staff

    def test_claims_of_the_wrong_type_are_ignored(self, make_token):
        token = make_token("typed", email=["x@example.com"], name={"first": "A"})

        assert get_tasks("typed", f"Bearer {token}").status_code == 200
        created = User.objects.get(pk="typed")
        assert (created.email, created.name) == (None, "")

    def test_an_email_taken_by_another_account_still_lets_the_user_in(self, user, make_token):
        token = make_token("newcomer", email=user.email.upper())

        assert get_tasks("newcomer", f"Bearer {token}").status_code == 200
        assert User.objects.get(pk="newcomer").email is None

    def test_a_known_user_is_not_changed_by_later_claims(self, user, make_token):
        token = make_token(user.id, email="changed@example.com", name="Changed")

        get_tasks(user.id, f"Bearer {token}")

        user.refresh_from_db()
        assert user.email != "changed@example.com"

    def test_a_valid_token_on_another_users_path_is_403(self, user, other_user, make_token):
        TaskFactory(user=other_user)

        response = get_tasks(other_user.id, f"Bearer {make_token(user.id)}")

        assert response.status_code == 403
        assert set(response.json()) == {"detail"}


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_requests_create_the_user_exactly_once(make_token):
    user_id = "racer0123456789abcdefghijklmnopq"
    token = make_token(user_id, email="racer@example.com")
    statuses = run_concurrently(8, lambda _: get_tasks(user_id, f"Bearer {token}").status_code)

    assert statuses == [200] * 8
    assert User.objects.filter(pk=user_id).count() == 1


class TestRememberedTokens:
    """A verified token is not verified again on every request, and nothing else is let by."""

    @pytest.fixture
    def decodes(self, monkeypatch) -> list[str]:
        """The tokens that reach PyJWT's full verification, in order."""
        seen: list[str] = []
        real_decode = tokens.jwt.decode

        def counting_decode(token, *args, **kwargs):
            seen.append(token.decode())
            return real_decode(token, *args, **kwargs)

        monkeypatch.setattr(tokens.jwt, "decode", counting_decode)
        return seen

    def test_a_repeated_token_is_verified_once(self, user, make_token, decodes):
        token = make_token(user.id)

        statuses = [get_tasks(user.id, f"Bearer {token}").status_code for _ in range(3)]

        assert statuses == [200, 200, 200]
        assert decodes == [token]

    def test_a_token_with_another_signature_is_verified_and_refused(
        self, user, make_token, decodes
    ):
        token = make_token(user.id)
        assert get_tasks(user.id, f"Bearer {token}").status_code == 200
        header, payload, _ = token.split(".")
        forged = f"{header}.{payload}.{b64({'not': 'the signature'})}"

        assert_unauthorized(get_tasks(user.id, f"Bearer {forged}"))
        assert_unauthorized(get_tasks(user.id, f"Bearer {forged}"))
        assert decodes == [token, forged, forged]

    def test_a_remembered_token_is_checked_again_after_a_minute(self, user, make_token, decodes):
        token = make_token(user.id)
        get_tasks(user.id, f"Bearer {token}")

        with time_machine.travel(time.time() + tokens.VERIFIED_TOKEN_SECONDS + 1, tick=False):
            assert get_tasks(user.id, f"Bearer {token}").status_code == 200

        assert decodes == [token, token]

    def test_a_token_is_not_remembered_past_its_expiry_and_leeway(self, user, make_token, decodes):
        now = int(time.time())
        token = make_token(user.id, exp=now + 5)
        get_tasks(user.id, f"Bearer {token}")

        # Within the minute, but past exp plus the 30 s leeway: refused, after a new check.
        with time_machine.travel(now + 5 + 31, tick=False):
            assert_unauthorized(get_tasks(user.id, f"Bearer {token}"))

        assert decodes == [token, token]

    def test_a_token_is_remembered_within_its_expiry_and_leeway(self, user, make_token, decodes):
        now = int(time.time())
        token = make_token(user.id, exp=now + 5)
        get_tasks(user.id, f"Bearer {token}")

        with time_machine.travel(now + 5 + 29, tick=False):
            assert get_tasks(user.id, f"Bearer {token}").status_code == 200

        assert decodes == [token]

    def test_a_remembered_token_is_refused_once_it_expires(self, user, make_token):
        token = make_token(user.id, exp=int(time.time()) + 5)
        assert get_tasks(user.id, f"Bearer {token}").status_code == 200

        # SimpleJWT checks `exp` against its own clock on every request, remembered or not.
        with time_machine.travel(datetime.now(UTC) + timedelta(seconds=5 + 31), tick=False):
            assert_unauthorized(get_tasks(user.id, f"Bearer {token}"))

    def test_the_least_recently_used_token_is_forgotten_when_full(
        self, user, make_token, decodes, monkeypatch, request
    ):
        monkeypatch.setattr(tokens, "VERIFIED_TOKENS_MAX", 2)
        tokens.better_auth_token_backend.cache_clear()
        request.addfinalizer(tokens.better_auth_token_backend.cache_clear)
        first, second, third = (make_token(user.id, n=n) for n in range(3))
        for token in (first, second, first, third, first, second):
            assert get_tasks(user.id, f"Bearer {token}").status_code == 200

        assert decodes == [first, second, third, second]
