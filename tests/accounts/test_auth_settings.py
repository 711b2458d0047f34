"""Start-up configuration of token verification (config/settings.py)."""

import pytest
from django.core.exceptions import ImproperlyConfigured


def test_start_up_fails_naming_the_variables_when_no_token_mode_is_configured(load_settings):
    with pytest.raises(ImproperlyConfigured) as error:
        load_settings()

    for name in ("BETTER_AUTH_SECRET", "BETTER_AUTH_JWKS_URL", "BETTER_AUTH_URL"):
        assert name in str(error.value)


def test_better_auth_url_alone_turns_on_jwks_mode_without_a_secret(load_settings):
    values = load_settings(BETTER_AUTH_URL="https://app.example.com/")

    assert values["BETTER_AUTH_JWKS_URL"] == "https://app.example.com/api/auth/jwks"
    assert values["BETTER_AUTH_SECRET"] == ""
    assert values["JWT_ALGORITHMS"] == ["EdDSA", "ES256", "ES512", "RS256", "PS256"]


def test_an_explicit_jwks_url_wins_and_both_modes_can_be_on(load_settings):
    values = load_settings(
        BETTER_AUTH_SECRET="s" * 40,
        BETTER_AUTH_URL="https://app.example.com",
        BETTER_AUTH_JWKS_URL="https://keys.example.com/jwks.json",
    )

    assert values["BETTER_AUTH_JWKS_URL"] == "https://keys.example.com/jwks.json"
    assert values["SIMPLE_JWT"]["SIGNING_KEY"] == "s" * 40


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"JWT_ALGORITHMS": "EdDSA,HS256"}, "JWT_ALGORITHMS"),
        ({"JWT_ALGORITHMS": "none"}, "JWT_ALGORITHMS"),
        ({"JWKS_FETCH_TIMEOUT_SECONDS": "60"}, "JWKS_FETCH_TIMEOUT_SECONDS"),
        ({"BETTER_AUTH_JWKS_URL": "file:///etc/passwd"}, "BETTER_AUTH_JWKS_URL"),
    ],
)
def test_unsafe_token_settings_stop_start_up(load_settings, env, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        load_settings(BETTER_AUTH_URL="https://app.example.com", **env)
