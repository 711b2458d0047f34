"""SimpleJWT's token backend, taught to verify Better Auth's two kinds of token.

The token's header names its algorithm, and the algorithm decides the key: HS256 is verified
only with `BETTER_AUTH_SECRET`; an asymmetric algorithm from `JWT_ALGORITHMS` only with the
JWKS key whose `kid` matches and whose type agrees. PyJWT is then told to accept that one
algorithm alone, so a token can never choose how it is checked (no `none`, no HS256 signed
with a public key's bytes).
"""

import functools
import logging
import threading
import time
from typing import Any

import jwt
from cachetools import TTLCache
from django.conf import settings
from django.dispatch import receiver
from django.test.signals import setting_changed
from jwt import ExpiredSignatureError, PyJWTError
from rest_framework_simplejwt import settings as simplejwt_settings
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken

from accounts.jwks import key_sets

logger = logging.getLogger(__name__)

SHARED_SECRET_ALGORITHM = "HS256"
# Settings the backend is built from; changing one (in tests) rebuilds it.
BACKEND_SETTINGS = {"SIMPLE_JWT", "BETTER_AUTH_SECRET", "BETTER_AUTH_JWKS_URL", "JWT_ALGORITHMS"}
# A verified token is remembered this long at most (never past its `exp`). A key withdrawn
# from the JWKS is honoured for new tokens until the key set is fetched again
# (JWKS_CACHE_TTL_SECONDS), and for remembered ones up to this much longer.
VERIFIED_TOKEN_SECONDS = 60
# At most this many at once (about 10 MB of Better Auth tokens): past that, the least
# recently used goes first.
VERIFIED_TOKENS_MAX = 4096


class BetterAuthTokenBackend(TokenBackend):
    """Verifies HS256 tokens with the shared secret and asymmetric ones with the JWKS.

    Contract: `decode` returns the claims of a token whose signature, `exp`, `nbf`, `iat`
    (with leeway) and, when configured, `iss` and `aud` check out, and raises
    `TokenBackendError` for anything else, including a token whose algorithm is not
    accepted or whose key is unknown; it never lets another exception out. Encoding (for
    this backend's own tokens) stays SimpleJWT's HS256 with the shared secret.

    A frontend sends the same token with every request until it expires, and checking it
    (PyJWT parses and validates it twice over, header then whole) cost more than anything
    else on a cached read. So the claims of a token that passed are remembered under the
    token's exact text, signature included, until `exp` (plus leeway) or for
    `VERIFIED_TOKEN_SECONDS`, whichever comes first: only the very bytes that were verified
    are ever let through unchecked, and `nbf` and `iat`, once met, stay met. A token that
    fails here is never remembered; the checks after this one (SimpleJWT's `exp`, the token
    type and the subject, then the user's `is_active`) run on every request.
    """

    def __init__(self, *, shared_secret: str, jwks_url: str, jwks_algorithms: list[str]) -> None:
        options = simplejwt_settings.api_settings
        super().__init__(
            SHARED_SECRET_ALGORITHM,
            signing_key=shared_secret,
            audience=options.AUDIENCE,
            issuer=options.ISSUER,
            leeway=options.LEEWAY,
            json_encoder=options.JSON_ENCODER,
        )
        self.jwks_url = jwks_url
        self.jwks_algorithms = frozenset(jwks_algorithms) if jwks_url else frozenset()
        # cachetools drops an entry VERIFIED_TOKEN_SECONDS after it was stored (on the same
        # clock as `exp`, time.time), and the least recently used when full; each entry also
        # carries its own end, exp + leeway, for tokens that expire sooner. Not thread-safe
        # by itself, and gthread workers share this backend between threads: hence the lock.
        self.verified: TTLCache[Any, tuple[float, dict[str, Any]]] = TTLCache(
            maxsize=VERIFIED_TOKENS_MAX, ttl=VERIFIED_TOKEN_SECONDS, timer=time.time
        )
        self.verified_lock = threading.Lock()

    def decode(self, token: Any, verify: bool = True) -> dict[str, Any]:
        if not verify:
            return self.check(token, verify=False)
        with self.verified_lock:
            remembered = self.verified.get(token)
        if remembered is not None and time.time() < remembered[0]:
            return dict(remembered[1])
        claims = self.check(token)
        expires = claims.get("exp")
        if isinstance(expires, int | float) and not isinstance(expires, bool):
            until = expires + self.get_leeway().total_seconds()
            with self.verified_lock:
                self.verified[token] = (until, dict(claims))
        return claims

    def check(self, token: Any, verify: bool = True) -> dict[str, Any]:
        """The token's claims after PyJWT's full verification (or none, with `verify` off)."""
        algorithm, key = self.verification_key(token)
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.get_leeway(),
                options={"verify_aud": self.audience is not None, "verify_signature": verify},
            )
        except ExpiredSignatureError as exc:
            raise TokenBackendExpiredToken("Token is expired") from exc
        except PyJWTError as exc:
            raise TokenBackendError("Token is invalid") from exc

    def verification_key(self, token: Any) -> tuple[str, Any]:
        """The one algorithm and key this token may be verified with, from its header."""
        try:
            header = jwt.get_unverified_header(token)
        except PyJWTError as exc:
            raise TokenBackendError("Token is invalid") from exc
        algorithm = header.get("alg")
        if algorithm == SHARED_SECRET_ALGORITHM and self.signing_key:
            return algorithm, self.prepared_signing_key
        if not isinstance(algorithm, str) or algorithm not in self.jwks_algorithms:
            raise TokenBackendError("Token algorithm is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenBackendError("Token has no key id")
        key = key_sets.signing_key(self.jwks_url, kid, algorithm)
        if key is None:
            logger.warning(
                "Rejected a %s token: no usable key with kid %r in the JWKS at %s",
                algorithm,
                kid[:64],
                self.jwks_url,
            )
            raise TokenBackendError("Token is signed with an unknown key")
        return algorithm, key


@functools.cache
def better_auth_token_backend() -> BetterAuthTokenBackend:
    """The backend for the current settings, built on first use (not at import)."""
    return BetterAuthTokenBackend(
        shared_secret=settings.BETTER_AUTH_SECRET,
        jwks_url=settings.BETTER_AUTH_JWKS_URL,
        jwks_algorithms=settings.JWT_ALGORITHMS,
    )


@receiver(setting_changed)
def rebuild_backend_when_settings_change(*, setting: str, **kwargs: Any) -> None:
    """Lets tests point the backend elsewhere with pytest-django's `settings` fixture."""
    if setting in BACKEND_SETTINGS:
        better_auth_token_backend.cache_clear()
