"""JWKS mode: tokens of Better Auth's jwt() plugin, verified with the key its `kid`
names, from a JWKS served over real HTTP on loopback (the `jwks_server` fixture)."""

import base64
import hashlib
import hmac
import json
import logging
import time

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.cache import cache

from accounts import jwks
from accounts.jwks import KeySet, KeySetCache, cache_key
from accounts.models import User
from tests.accounts.test_authentication import assert_unauthorized, b64, get_tasks
from tests.conftest import sign_token
from tests.jwks_server import SigningKey, better_auth_claims, better_auth_kid

pytestmark = pytest.mark.django_db

USER_ID = "gY3kPqZ8mN2xR7tL5vW9bC4dF6hJ1kA0"
ALGORITHMS = ["EdDSA", "ES256", "ES512", "RS256", "PS256"]


class ShiftedClock:
    """The JWKS cache's clock, moved forward by tests instead of waiting."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def later(monkeypatch, jwks_server):
    """`later(seconds)`: the JWKS cache acts as if that much time had passed.

    The shared cache's own expiry runs on the real clock, so the re-fetch marker, which
    would have expired by then, is removed.
    """
    clock = ShiftedClock()
    monkeypatch.setattr(jwks, "time", clock)

    def advance(seconds: float) -> None:
        clock.offset += seconds
        if seconds >= jwks.REFETCH_INTERVAL_SECONDS:
            cache.delete(cache_key(jwks_server.url, "refetch"))

    return advance


@pytest.fixture
def eddsa(signing_keys) -> SigningKey:
    return signing_keys["EdDSA"]


def bearer(token: str) -> str:
    return f"Bearer {token}"


def claims(jwks_server, **overrides) -> dict:
    return better_auth_claims(USER_ID, jwks_server.base_url, **overrides)


def hs256(header: dict, payload: dict, key: bytes) -> str:
    """An HS256 token built by hand, so any bytes can serve as the key (PyJWT refuses PEMs)."""
    signing_input = f"{b64(header)}.{b64(payload)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


class CountingCache:
    """The shared cache, recording which operations the JWKS code asks of it."""

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def __getattr__(self, name: str):
        self.calls.append(name)
        return getattr(cache, name)


class TestAccepted:
    @pytest.mark.parametrize("algorithm", ALGORITHMS)
    def test_better_auth_token_is_accepted_for_its_user_who_is_provisioned(
        self, jwks_server, signing_keys, algorithm
    ):
        token = signing_keys[algorithm].sign(claims(jwks_server))

        response = get_tasks(USER_ID, bearer(token))

        assert response.status_code == 200
        created = User.objects.get(pk=USER_ID)
        assert (created.email, created.name) == (f"{USER_ID.lower()}@example.com", "Ada Lovelace")

    @pytest.mark.parametrize("algorithm", ALGORITHMS)
    def test_better_auth_token_is_403_on_another_users_path(
        self, jwks_server, signing_keys, other_user, algorithm
    ):
        token = signing_keys[algorithm].sign(claims(jwks_server))

        response = get_tasks(other_user.id, bearer(token))

        assert response.status_code == 403

    def test_issuer_and_audience_of_better_auth_are_accepted_when_configured(
        self, jwks_server, eddsa, jwt_settings
    ):
        jwt_settings(ISSUER=jwks_server.base_url, AUDIENCE=jwks_server.base_url)

        assert get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server)))).status_code == 200

    def test_shared_secret_and_jwks_tokens_are_both_accepted(self, jwks_server, eddsa):
        now = int(time.time())
        shared = sign_token({"sub": USER_ID, "iat": now, "exp": now + 900})

        assert get_tasks(USER_ID, bearer(shared)).status_code == 200
        assert get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server)))).status_code == 200

    def test_jwks_is_fetched_once_then_served_from_this_workers_memory(
        self, jwks_server, signing_keys
    ):
        for algorithm in ALGORITHMS:
            token = signing_keys[algorithm].sign(claims(jwks_server))
            assert get_tasks(USER_ID, bearer(token)).status_code == 200

        assert jwks_server.requests == 1

    def test_known_keys_are_served_without_touching_the_shared_cache_even_when_stale(
        self, jwks_server, eddsa, later, monkeypatch
    ):
        get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server))))
        calls: list[str] = []
        monkeypatch.setattr(jwks, "cache", CountingCache(calls))

        for _ in range(3):
            assert get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server)))).status_code == 200
        assert calls == []

        jwks_server.stop()
        later(301)
        for _ in range(3):
            assert get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server)))).status_code == 200
        assert calls == ["get", "add"]

    def test_another_worker_uses_the_shared_cache_instead_of_fetching(self, jwks_server, eddsa):
        get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server))))

        other_worker = KeySetCache()

        assert other_worker.signing_key(jwks_server.url, eddsa.kid, "EdDSA") is not None
        assert jwks_server.requests == 1

    def test_keys_are_fetched_again_after_the_cache_ttl(self, jwks_server, eddsa, later):
        get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server))))

        later(301)
        response = get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server))))

        assert response.status_code == 200
        assert jwks_server.requests == 2


class TestRejected:
    """A catalogue of attacks on JWKS verification, each a 401 with `WWW-Authenticate: Bearer`."""

    @pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
    def test_alg_none_with_a_known_kid_is_401_in_any_casing(self, jwks_server, eddsa, alg):
        header = {"alg": alg, "kid": eddsa.kid}

        assert_unauthorized(
            get_tasks(USER_ID, bearer(f"{b64(header)}.{b64(claims(jwks_server))}."))
        )

    @pytest.mark.parametrize("algorithm", ALGORITHMS)
    def test_signature_from_another_key_with_the_same_kid_is_401(
        self, jwks_server, signing_keys, algorithm
    ):
        impostor = SigningKey.generate(algorithm).with_kid(signing_keys[algorithm].kid)

        assert_unauthorized(get_tasks(USER_ID, bearer(impostor.sign(claims(jwks_server)))))

    @pytest.mark.parametrize("algorithm", ALGORITHMS)
    def test_payload_tampered_after_signing_is_401(self, jwks_server, signing_keys, algorithm):
        header, _, signature = (
            signing_keys[algorithm].sign(claims(jwks_server, sub="victim")).split(".")
        )
        forged = f"{header}.{b64(claims(jwks_server))}.{signature}"

        assert_unauthorized(get_tasks(USER_ID, bearer(forged)))

    def test_attackers_own_key_embedded_in_the_header_is_ignored(self, jwks_server, eddsa):
        attacker = SigningKey.generate("EdDSA")
        for kid in (attacker.kid, eddsa.kid):
            token = attacker.with_kid(kid).sign(claims(jwks_server), jwk=attacker.jwk())

            assert_unauthorized(get_tasks(USER_ID, bearer(token)))

    def test_alg_disagreeing_with_the_kids_key_is_401(self, jwks_server, signing_keys):
        # A PS256 signature over the RS256 key, and an ES256 header on the Ed25519 key's kid.
        rs256, eddsa = signing_keys["RS256"], signing_keys["EdDSA"]
        as_ps256 = SigningKey("PS256", rs256.private_key, rs256.kid)
        wrong_curve = SigningKey.generate("ES256").with_kid(eddsa.kid)

        for token in (as_ps256.sign(claims(jwks_server)), wrong_curve.sign(claims(jwks_server))):
            assert_unauthorized(get_tasks(USER_ID, bearer(token)))

    def test_algorithm_outside_the_allow_list_is_401_even_with_its_key_published(
        self, jwks_server, signing_keys
    ):
        es384 = SigningKey.generate("ES384")
        jwks_server.publish(es384, *signing_keys.values())

        assert_unauthorized(get_tasks(USER_ID, bearer(es384.sign(claims(jwks_server)))))

    def test_expired_beyond_leeway_is_401_within_leeway_accepted(self, jwks_server, eddsa):
        now = int(time.time())
        expired = eddsa.sign(claims(jwks_server, iat=now - 960, exp=now - 31))
        almost = eddsa.sign(claims(jwks_server, iat=now - 910, exp=now - 10))

        assert_unauthorized(get_tasks(USER_ID, bearer(expired)))
        assert get_tasks(USER_ID, bearer(almost)).status_code == 200

    @pytest.mark.parametrize("claim", ["nbf", "iat"])
    def test_not_yet_valid_beyond_leeway_is_401(self, jwks_server, eddsa, claim):
        token = eddsa.sign(claims(jwks_server, **{claim: int(time.time()) + 120}))

        assert_unauthorized(get_tasks(USER_ID, bearer(token)))

    def test_missing_exp_is_401(self, jwks_server, eddsa):
        token_claims = claims(jwks_server)
        del token_claims["exp"]

        assert_unauthorized(get_tasks(USER_ID, bearer(eddsa.sign(token_claims))))

    @pytest.mark.parametrize("sub", [None, 123, ["a"], "", "has space"])
    def test_missing_or_malformed_sub_is_401(self, jwks_server, eddsa, sub):
        token_claims = claims(jwks_server, sub=sub)
        if sub is None:
            del token_claims["sub"]

        assert_unauthorized(get_tasks(USER_ID, bearer(eddsa.sign(token_claims))))

    @pytest.mark.parametrize(("setting", "claim"), [("ISSUER", "iss"), ("AUDIENCE", "aud")])
    def test_wrong_or_missing_iss_and_aud_are_401_when_configured(
        self, jwks_server, eddsa, jwt_settings, setting, claim
    ):
        jwt_settings(**{setting: jwks_server.base_url})
        wrong = claims(jwks_server, **{claim: "https://elsewhere.example.com"})
        missing = claims(jwks_server)
        del missing[claim]

        assert_unauthorized(get_tasks(USER_ID, bearer(eddsa.sign(wrong))))
        assert_unauthorized(get_tasks(USER_ID, bearer(eddsa.sign(missing))))

    def test_unknown_kid_is_401_with_a_warning(self, jwks_server, eddsa, caplog):
        token = eddsa.with_kid(better_auth_kid()).sign(claims(jwks_server))

        with caplog.at_level(logging.WARNING, logger="accounts.tokens"):
            assert_unauthorized(get_tasks(USER_ID, bearer(token)))

        assert "no usable key with kid" in caplog.text

    @pytest.mark.parametrize("kid", [None, "", 123, ["kid"]])
    def test_missing_or_malformed_kid_is_401(self, jwks_server, eddsa, kid):
        header = {"alg": "EdDSA"} if kid is None else {"alg": "EdDSA", "kid": kid}
        body = f"{b64(header)}.{b64(claims(jwks_server))}"
        signature = base64.urlsafe_b64encode(eddsa.private_key.sign(body.encode()))

        assert_unauthorized(get_tasks(USER_ID, bearer(f"{body}.{signature.rstrip(b'=').decode()}")))

    def test_unknown_critical_header_is_401(self, jwks_server, eddsa):
        token = eddsa.sign(claims(jwks_server), crit=["x-custom"])

        assert_unauthorized(get_tasks(USER_ID, bearer(token)))

    def test_16_kb_tokens_are_401(self, jwks_server, eddsa):
        padded = eddsa.sign(claims(jwks_server, sub="x" * 16384))
        header = b64({"alg": "EdDSA", "kid": eddsa.kid})

        assert_unauthorized(get_tasks(USER_ID, bearer(padded)))
        assert_unauthorized(get_tasks(USER_ID, bearer(f"{header}.{'A' * 16384}.{'B' * 86}")))

    @pytest.mark.parametrize(
        "token",
        [
            better_auth_kid(),  # an opaque session token
            f"{better_auth_kid()}.{base64.b64encode(b'h' * 32).decode()}",  # a bearer() token
            "garbage",
            "a.b.c",
            "..",
            "e30.e30.",
            "\u00e9\u00e9",
        ],
    )
    def test_better_auth_session_tokens_and_garbage_are_401(self, jwks_server, token):
        assert_unauthorized(get_tasks(USER_ID, bearer(token)))

    @pytest.mark.parametrize("value", ["Bearer", "Bearer ", ""])
    def test_empty_values_are_401(self, jwks_server, value):
        assert_unauthorized(get_tasks(USER_ID, value))


class TestAlgorithmConfusion:
    def public_key_bytes(self, key: SigningKey) -> list[bytes]:
        pem = key.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return [pem, json.dumps(key.jwk()).encode(), key.jwk().get("x", "").encode()]

    @pytest.mark.parametrize("algorithm", ["EdDSA", "RS256"])
    def test_hs256_signed_with_a_public_key_is_401(self, jwks_server, signing_keys, algorithm):
        key = signing_keys[algorithm]
        for secret in self.public_key_bytes(key):
            token = hs256({"alg": "HS256", "kid": key.kid}, claims(jwks_server), secret)

            assert_unauthorized(get_tasks(USER_ID, bearer(token)))

    def test_jwks_mode_without_a_secret_refuses_hs256(self, jwks_server, eddsa, settings):
        shared_secret = settings.BETTER_AUTH_SECRET
        settings.BETTER_AUTH_SECRET = ""
        now = int(time.time())
        token = sign_token({"sub": USER_ID, "exp": now + 900}, key=shared_secret)

        assert_unauthorized(get_tasks(USER_ID, bearer(token)))
        for secret in self.public_key_bytes(eddsa) + [b""]:
            forged = hs256({"alg": "HS256", "kid": eddsa.kid}, claims(jwks_server), secret)
            assert_unauthorized(get_tasks(USER_ID, bearer(forged)))
        assert get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server)))).status_code == 200

    def test_without_a_jwks_url_asymmetric_tokens_are_401(self, jwks_server, eddsa, settings):
        settings.BETTER_AUTH_JWKS_URL = ""

        assert_unauthorized(get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server)))))
        assert jwks_server.requests == 0


class TestKeyRotation:
    def test_a_new_kid_is_accepted_after_one_refetch(self, jwks_server, signing_keys, eddsa):
        get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server))))
        rotated = SigningKey.generate("EdDSA")
        jwks_server.publish(rotated, *signing_keys.values())

        response = get_tasks(USER_ID, bearer(rotated.sign(claims(jwks_server))))

        assert response.status_code == 200
        assert jwks_server.requests == 2
        assert get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server)))).status_code == 200
        assert jwks_server.requests == 2

    def test_a_withdrawn_key_is_401_once_the_cache_expires(self, jwks_server, eddsa, later):
        get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server))))
        jwks_server.publish(SigningKey.generate("EdDSA"))

        later(301)

        assert_unauthorized(get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server)))))
        assert jwks_server.requests == 2


class TestRefetchRateLimit:
    def test_unknown_kids_refetch_at_most_once_a_minute_across_workers(
        self, jwks_server, eddsa, later
    ):
        get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server))))
        workers = [KeySetCache(), KeySetCache()]

        for _ in range(5):
            token = eddsa.with_kid(better_auth_kid()).sign(claims(jwks_server))
            assert_unauthorized(get_tasks(USER_ID, bearer(token)))
            for worker in workers:
                assert worker.signing_key(jwks_server.url, better_auth_kid(), "EdDSA") is None
        assert jwks_server.requests == 2

        later(61)
        unknown = eddsa.with_kid(better_auth_kid()).sign(claims(jwks_server))
        assert_unauthorized(get_tasks(USER_ID, bearer(unknown)))
        assert jwks_server.requests == 3


class TestEndpointTrouble:
    def test_cached_keys_keep_working_while_the_endpoint_is_down(
        self, jwks_server, eddsa, later, caplog
    ):
        get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server))))
        jwks_server.stop()
        later(301)

        with caplog.at_level(logging.WARNING, logger="accounts.jwks"):
            for _ in range(3):
                response = get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server))))
                assert response.status_code == 200

        assert caplog.text.count("Could not fetch the JWKS") == 1

    def test_cached_keys_expire_a_day_after_the_last_fetch(self, jwks_server, eddsa, later):
        get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server))))
        jwks_server.stop()

        later(jwks.STALE_KEYS_KEPT_SECONDS + 1)

        assert_unauthorized(get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server)))))

    def test_slow_endpoint_is_given_up_on_and_the_token_is_401(
        self, jwks_server, eddsa, settings, caplog
    ):
        settings.JWKS_FETCH_TIMEOUT_SECONDS = 0.2
        jwks_server.delay = 1.0

        with caplog.at_level(logging.WARNING):
            assert_unauthorized(get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server)))))

        assert "Could not fetch the JWKS" in caplog.text
        assert "timed out" in caplog.text

    @pytest.mark.parametrize(
        ("status", "body"),
        [
            (500, '{"keys": []}'),
            (200, "<html>not json</html>"),
            (200, '{"keys": "none"}'),
            (200, '["not", "an", "object"]'),
            (200, '{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "!!", "kid": "k"}]}'),
            (200, '{"keys": [' + '{"kty": "oct", "k": "AAAA"},' * 20000 + "{}]}"),
        ],
    )
    def test_a_broken_jwks_is_401_with_one_warning_and_no_refetch_storm(
        self, jwks_server, eddsa, caplog, status, body
    ):
        jwks_server.status, jwks_server.body = status, body

        with caplog.at_level(logging.WARNING):
            for _ in range(3):
                assert_unauthorized(get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server)))))

        assert jwks_server.requests == 1
        assert caplog.text.count("Could not fetch the JWKS") == 1

    def test_endpoint_down_from_the_start_is_401_not_500(self, jwks_server, eddsa, caplog):
        jwks_server.stop()

        with caplog.at_level(logging.WARNING, logger="accounts.jwks"):
            assert_unauthorized(get_tasks(USER_ID, bearer(eddsa.sign(claims(jwks_server)))))

        assert "Could not fetch the JWKS" in caplog.text


def test_unknown_kids_are_not_remembered(signing_keys):
    """A forged token may name any kid; none of them may grow a worker's memory."""
    real = signing_keys["EdDSA"]
    key_set = KeySet(document={"keys": [real.jwk()]}, fetched_at=time.time())

    for n in range(100):
        assert key_set.key_for(f"forged-{n}", "EdDSA") is None

    assert key_set.key_for(real.kid, "EdDSA") is not None
    assert list(key_set._prepared) == [(real.kid, "EdDSA")]
