"""`manage.py check_auth`: says which token modes are on and whether the JWKS is usable."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.jwks_server import SigningKey


def check_auth() -> str:
    out = StringIO()
    call_command("check_auth", stdout=out)
    return out.getvalue()


def test_lists_both_modes_and_the_jwks_keys(jwks_server, signing_keys):
    output = check_auth()

    assert "Shared secret (HS256): on" in output
    assert f"JWKS: {jwks_server.url}" in output
    assert f"JWKS reachable: {len(signing_keys)} key(s)" in output
    for key in signing_keys.values():
        assert f"kid={key.kid} alg={key.algorithm}" in output


def test_says_when_jwks_is_off(settings):
    settings.BETTER_AUTH_JWKS_URL = ""

    assert "JWKS: off" in check_auth()


def test_says_when_the_shared_secret_is_off(jwks_server, settings):
    settings.BETTER_AUTH_SECRET = ""

    assert "Shared secret (HS256): off" in check_auth()


def test_fails_when_the_jwks_is_unreachable(jwks_server):
    jwks_server.stop()

    with pytest.raises(CommandError, match="is unusable"):
        check_auth()


def test_fails_when_no_published_key_uses_an_allowed_algorithm(jwks_server):
    es384 = SigningKey.generate("ES384")
    jwks_server.publish(es384)

    with pytest.raises(CommandError, match="allowed algorithm"):
        check_auth()
