"""Local accounts fit for a public deployment: verified addresses, password reset, logout."""

import re
import socket

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from accounts.emails import check_link_pages
from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new battery staple"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The production hasher is slow on purpose; these tests check the flows, not its cost."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def verification(settings):
    settings.LOCAL_AUTH_EMAIL_VERIFICATION = True
    settings.LOCAL_AUTH_VERIFY_EMAIL_URL = "https://app.test/verify-email"
    settings.LOCAL_AUTH_PASSWORD_RESET_URL = "https://app.test/reset-password"


def post(path: str, body: dict, client: APIClient | None = None):
    return (client or APIClient()).post(f"/api/auth/{path}", body, format="json")


def link_in(message) -> dict[str, str]:
    """The uid and token of the one link in a mailed message."""
    [url] = re.findall(r"https://app\.test/\S+", message.body)
    return dict(re.findall(r"(uid|token)=([^&\s]+)", url))


def register(email: str = "new@example.com", password: str = PASSWORD):
    return post("register", {"email": email, "password": password})


def sign_in(email: str = "new@example.com", password: str = PASSWORD):
    return post("token", {"email": email, "password": password})


class TestEmailVerification:
    def test_registering_mails_a_link_and_gives_no_tokens_yet(self, verification, mailoutbox):
        response = register()

        assert response.status_code == 202
        assert set(response.json()) == {"detail"}
        [message] = mailoutbox
        assert message.to == ["new@example.com"]
        assert set(link_in(message)) == {"uid", "token"}
        assert not User.objects.filter(email="new@example.com").exists()

    def test_signing_in_before_verifying_is_403_and_a_wrong_password_401(
        self, verification, mailoutbox
    ):
        register()

        assert sign_in().status_code == 403
        assert "Confirm your email" in sign_in().json()["detail"]
        assert sign_in(password="not the password").status_code == 401

    def test_the_link_signs_in_and_makes_the_address_the_accounts(self, verification, mailoutbox):
        register()

        response = post("verify-email", link_in(mailoutbox[0]))

        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"user", "access", "refresh"}
        assert body["user"]["email"] == "new@example.com"
        me = APIClient(HTTP_AUTHORIZATION=f"Bearer {body['access']}").get("/api/auth/me")
        assert me.json()["email"] == "new@example.com"
        assert sign_in().status_code == 200

    def test_a_link_works_once(self, verification, mailoutbox):
        register()
        link = link_in(mailoutbox[0])
        post("verify-email", link)

        response = post("verify-email", link)

        assert response.status_code == 400
        assert "token" in response.json()["errors"]

    @pytest.mark.parametrize(
        "change",
        [
            {"token": "1-abc"},
            {"uid": "bm90LWEtdXNlcg"},
            {"uid": "%%%"},
            {"uid": ""},
            {"token": "x" * 201},
        ],
    )
    def test_a_bad_link_is_400(self, verification, mailoutbox, change):
        register()

        response = post("verify-email", {**link_in(mailoutbox[0]), **change})

        assert response.status_code == 400
        assert "errors" in response.json()

    def test_a_link_without_its_parts_is_400(self, verification):
        response = post("verify-email", {})

        assert response.status_code == 400
        assert set(response.json()["errors"]) == {"uid", "token"}

    def test_a_better_auth_user_gets_its_address_even_after_a_local_registration(
        self, verification, mailoutbox, make_token
    ):
        register(email="ba@example.com")
        token = make_token("better-auth-user", email="ba@example.com")

        APIClient(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/better-auth-user/tasks")
        claimed = post("verify-email", link_in(mailoutbox[0]))

        assert User.objects.get(pk="better-auth-user").email == "ba@example.com"
        assert claimed.status_code == 400
        assert "email" in claimed.json()["errors"]
        assert sign_in(email="ba@example.com").status_code == 403  # still unverified

    def test_the_first_registration_verified_wins_and_the_others_go(self, verification, mailoutbox):
        register(password=PASSWORD)
        register(password=NEW_PASSWORD)

        assert post("verify-email", link_in(mailoutbox[1])).status_code == 200
        assert post("verify-email", link_in(mailoutbox[0])).status_code == 400
        assert User.objects.filter(pending_email="new@example.com").count() == 0
        assert sign_in(password=NEW_PASSWORD).status_code == 200

    def test_a_mail_server_that_refuses_is_503_and_leaves_no_account(self, verification, settings):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = (
            "127.0.0.1",
            closed_port,
            False,
        )

        response = register()

        assert response.status_code == 503
        assert set(response.json()) == {"detail"}
        assert not User.objects.filter(pending_email="new@example.com").exists()

    def test_off_registering_gives_tokens_at_once(self, settings):
        settings.LOCAL_AUTH_EMAIL_VERIFICATION = False

        response = register()

        assert response.status_code == 201
        assert set(response.json()) == {"user", "access", "refresh"}


@pytest.fixture
def local_user(db) -> User:
    return User.objects.create_user("ada@example.com", PASSWORD, name="Ada")


class TestPasswordReset:
    def test_a_link_is_mailed_and_sets_a_new_password(self, verification, local_user, mailoutbox):
        asked = post("password-reset", {"email": "ADA@example.com"})
        [message] = mailoutbox

        response = post("password-reset/confirm", {**link_in(message), "password": NEW_PASSWORD})

        assert asked.status_code == 202
        assert message.to == ["ada@example.com"]
        assert response.status_code == 204
        assert sign_in("ada@example.com", PASSWORD).status_code == 401
        assert sign_in("ada@example.com", NEW_PASSWORD).status_code == 200

    def test_the_answer_is_the_same_for_unknown_and_better_auth_addresses(
        self, verification, local_user, mailoutbox
    ):
        provisioned = UserFactory(email="ba@example.com")
        provisioned.set_unusable_password()
        provisioned.save()

        known = post("password-reset", {"email": "ada@example.com"})
        unknown = post("password-reset", {"email": "nobody@example.com"})
        remote = post("password-reset", {"email": "ba@example.com"})

        assert known.json() == unknown.json() == remote.json()
        assert known.status_code == unknown.status_code == remote.status_code == 202
        assert [message.to for message in mailoutbox] == [["ada@example.com"]]

    def test_a_link_works_once(self, verification, local_user, mailoutbox):
        post("password-reset", {"email": "ada@example.com"})
        link = link_in(mailoutbox[0])
        post("password-reset/confirm", {**link, "password": NEW_PASSWORD})

        response = post("password-reset/confirm", {**link, "password": "yet another staple 9"})

        assert response.status_code == 400
        assert "token" in response.json()["errors"]

    def test_a_weak_password_is_400_naming_it(self, verification, local_user, mailoutbox):
        post("password-reset", {"email": "ada@example.com"})

        response = post("password-reset/confirm", {**link_in(mailoutbox[0]), "password": "123"})

        assert response.status_code == 400
        assert "password" in response.json()["errors"]
        assert sign_in("ada@example.com", PASSWORD).status_code == 200

    @pytest.mark.parametrize(
        "body",
        [{}, {"email": "not an email"}, {"email": ["a@example.com"]}],
    )
    def test_a_bad_request_is_400(self, body):
        assert post("password-reset", body).status_code == 400

    def test_a_bad_link_is_400(self, local_user):
        response = post(
            "password-reset/confirm", {"uid": "eA", "token": "1-abc", "password": NEW_PASSWORD}
        )

        assert response.status_code == 400

    def test_it_revokes_the_refresh_tokens_the_account_had(
        self, verification, local_user, mailoutbox
    ):
        refresh = sign_in("ada@example.com").json()["refresh"]
        post("password-reset", {"email": "ada@example.com"})

        post("password-reset/confirm", {**link_in(mailoutbox[0]), "password": NEW_PASSWORD})

        assert post("token/refresh", {"refresh": refresh}).status_code == 401


class TestLogout:
    def test_revokes_the_refresh_token(self, local_user):
        tokens = sign_in("ada@example.com").json()

        response = post("logout", {"refresh": tokens["refresh"]})

        assert response.status_code == 204
        assert response.content == b""
        assert post("token/refresh", {"refresh": tokens["refresh"]}).status_code == 401

    def test_other_refresh_tokens_keep_working(self, local_user):
        first = sign_in("ada@example.com").json()["refresh"]
        second = sign_in("ada@example.com").json()["refresh"]

        post("logout", {"refresh": first})

        assert post("token/refresh", {"refresh": second}).status_code == 200

    def test_a_revoked_token_cannot_log_out_again(self, local_user):
        refresh = sign_in("ada@example.com").json()["refresh"]
        post("logout", {"refresh": refresh})

        response = post("logout", {"refresh": refresh})

        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")

    @pytest.mark.parametrize("which", ["access", "garbage", "better-auth"])
    def test_anything_but_a_refresh_token_is_401(self, local_user, make_token, which):
        token = {
            "access": lambda: sign_in("ada@example.com").json()["access"],
            "garbage": lambda: "a.b.c",
            "better-auth": lambda: make_token(local_user.id),
        }[which]()

        assert post("logout", {"refresh": token}).status_code == 401

    def test_without_a_token_is_400(self):
        assert post("logout", {}).status_code == 400


class TestLinkPages:
    def test_registering_without_a_verification_page_is_503_and_leaves_no_account(
        self, verification, settings, mailoutbox
    ):
        settings.LOCAL_AUTH_VERIFY_EMAIL_URL = ""

        response = register()

        assert response.status_code == 503
        assert mailoutbox == []
        assert not User.objects.filter(pending_email="new@example.com").exists()

    def test_password_reset_without_its_page_is_503(self, settings, local_user, mailoutbox):
        settings.LOCAL_AUTH_PASSWORD_RESET_URL = ""

        response = post("password-reset", {"email": "ada@example.com"})

        assert response.status_code == 503
        assert mailoutbox == []

    def test_check_deploy_warns_when_registration_has_no_verification_page(
        self, verification, settings
    ):
        settings.LOCAL_AUTH_VERIFY_EMAIL_URL = ""

        [message] = check_link_pages()

        assert message.id == "accounts.W001"
        settings.LOCAL_AUTH_EMAIL_VERIFICATION = False
        assert check_link_pages() == []


@pytest.mark.parametrize(
    "body", [{}, {"uid": "eA", "token": "1-abc"}, {"uid": "eA", "password": NEW_PASSWORD}]
)
def test_a_password_reset_confirmation_missing_a_field_is_400(body):
    response = post("password-reset/confirm", body)

    assert response.status_code == 400
    assert "errors" in response.json()


def test_an_unknown_email_backend_stops_start_up(load_settings):
    with pytest.raises(ImproperlyConfigured, match="EMAIL_BACKEND must be smtp or console"):
        load_settings(SECRET_KEY="x", BETTER_AUTH_SECRET="y" * 32, EMAIL_BACKEND="sendmail")


def test_production_mails_by_smtp_and_verifies_addresses_when_asked(load_settings, monkeypatch):
    monkeypatch.delenv("LOCAL_AUTH_EMAIL_VERIFICATION")  # the test run sets it

    values = load_settings(SECRET_KEY="x", BETTER_AUTH_SECRET="y" * 32)
    asked = load_settings(
        SECRET_KEY="x", BETTER_AUTH_SECRET="y" * 32, LOCAL_AUTH_EMAIL_VERIFICATION="true"
    )

    # Off by default: register answers 201 with tokens, as the contract says.
    assert values["LOCAL_AUTH_EMAIL_VERIFICATION"] is False
    assert asked["LOCAL_AUTH_EMAIL_VERIFICATION"] is True
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert values["LOCAL_AUTH_VERIFY_EMAIL_URL"] == ""
