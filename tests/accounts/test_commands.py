"""manage.py commands for accounts: mint_token and createsuperuser."""

import io
import time

import jwt
import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.management.commands.mint_token import Command
from accounts.models import User

pytestmark = pytest.mark.django_db


def mint(*args: str) -> str:
    out = io.StringIO()
    call_command("mint_token", *args, stdout=out)
    return out.getvalue().strip()


class TestMintToken:
    def test_refuses_with_debug_off_and_says_why(self, settings):
        settings.DEBUG = False

        with pytest.raises(CommandError, match="DEBUG is off.*--force"):
            mint("someone")

    def test_prints_a_token_the_api_accepts_and_that_creates_the_user(self, settings):
        settings.DEBUG = True

        token = mint("cliUser42", "--email", "Cli@Example.com", "--name", "Cli")

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert client.get("/api/cliUser42/tasks").status_code == 200
        created = User.objects.get(pk="cliUser42")
        assert (created.email, created.name) == ("cli@example.com", "Cli")

    def test_force_mints_with_debug_off(self, settings):
        settings.DEBUG = False

        token = mint("forced", "--force")

        claims = jwt.decode(token, settings.BETTER_AUTH_SECRET, algorithms=["HS256"])
        assert claims["sub"] == "forced" and claims["token_type"] == "access"

    @pytest.mark.parametrize(("ttl", "seconds"), [("90m", 5400), ("12h", 43200), ("2w", 1209600)])
    def test_ttl_sets_the_lifetime(self, settings, ttl, seconds):
        settings.DEBUG = True

        claims = jwt.decode(
            mint("u1", "--ttl", ttl), settings.BETTER_AUTH_SECRET, algorithms=["HS256"]
        )

        assert claims["exp"] - claims["iat"] == seconds
        assert abs(claims["iat"] - time.time()) < 5

    @pytest.mark.parametrize("ttl", ["0h", "1y", "-1d", "soon", "99999w", ""])
    def test_a_bad_ttl_is_a_clear_error(self, settings, ttl):
        settings.DEBUG = True

        with pytest.raises(CommandError, match="is not a duration"):
            mint("u1", f"--ttl={ttl}")

    @pytest.mark.parametrize("user_id", ["has space", "x" * 129, "../x", "é"])
    def test_a_malformed_user_id_is_refused(self, settings, user_id):
        settings.DEBUG = True

        with pytest.raises(CommandError, match="is not a user id"):
            mint(user_id)

    def test_refuses_without_a_shared_secret_and_says_why(self, settings):
        settings.DEBUG = True
        settings.BETTER_AUTH_SECRET = ""

        with pytest.raises(CommandError, match="BETTER_AUTH_SECRET"):
            call_command("mint_token", "someone")

    def test_help_describes_the_command_and_its_options(self):
        help_text = Command().create_parser("manage.py", "mint_token").format_help()

        assert "Refuses when DEBUG is off" in help_text
        assert all(option in help_text for option in ["--email", "--name", "--ttl", "--force"])


def test_createsuperuser_works_without_prompts(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a sturdy passphrase")

    call_command(
        "createsuperuser", "--noinput", "--email", "Boss@Example.com", stdout=io.StringIO()
    )

    boss = User.objects.get(email="boss@example.com")
    assert boss.is_superuser and boss.is_staff
    assert boss.check_password("a sturdy passphrase")
    assert len(boss.pk) == 32
