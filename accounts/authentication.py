"""Bearer-token authentication: Better Auth's tokens (shared secret or JWKS) and our own."""

import re
from typing import Any

from rest_framework.request import Request
from rest_framework_simplejwt.authentication import AUTH_HEADER_TYPE_BYTES, JWTAuthentication
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token

from accounts.models import USER_ID_RE, User
from accounts.tokens import better_auth_token_backend

TIME_CLAIMS = ("exp", "nbf", "iat")


def check_time_claims(payload: dict[str, Any]) -> None:
    """Refuses a time claim that is not a JSON number, as RFC 7519 requires.

    PyJWT accepts a string that `int()` can read ("1796160000"), and SimpleJWT's own expiry
    check then fails on it with a TypeError: without this, a correctly signed token with a
    string `exp` would be a 500 rather than a 401.
    """
    for claim in TIME_CLAIMS:
        value = payload.get(claim)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise TokenError(f"Token '{claim}' claim is not a number")


class BearerAccessToken(AccessToken):
    """An access token as Better Auth's frontends send it, verified by SimpleJWT.

    Their tokens carry neither `token_type` nor `jti`, so neither is required; a token that
    does name a type must be an access token (so a refresh token is never accepted as one).
    `exp` is required, and `sub` must be a well-formed user id. The signature is checked by
    `BetterAuthTokenBackend`: HS256 with the shared secret, or the JWKS key its `kid` names.
    """

    @property
    def token_backend(self) -> TokenBackend:
        return better_auth_token_backend()

    def verify(self) -> None:
        check_time_claims(self.payload)
        try:
            self.check_exp()
        except (OverflowError, OSError, ValueError) as exc:
            raise TokenError("Token 'exp' claim is not a valid time") from exc
        if self.payload.get("token_type", self.token_type) != self.token_type:
            raise TokenError("Token has wrong type")
        subject = self.payload.get("sub")
        if not isinstance(subject, str) or not USER_ID_RE.fullmatch(subject):
            raise TokenError("Token has no valid 'sub' claim")


# A claim is free text that PostgreSQL must store: it refuses NUL, and a lone UTF-16
# surrogate ("\ud800", which JSON can spell) cannot even be encoded as UTF-8.
UNSTORABLE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


class LocalRefreshToken(RefreshToken):
    """A refresh token issued here (revocable: logout, password reset), with its claims'
    types checked before SimpleJWT's own checks."""

    def verify(self, *args: Any, **kwargs: Any) -> None:
        check_time_claims(self.payload)
        # Before SimpleJWT's checks: its revocation check reads `jti` first and fails with a
        # KeyError on a token (such as Better Auth's) that has none.
        if self.payload.get("token_type") != self.token_type:
            raise TokenError("Token has wrong type")
        if not isinstance(self.payload.get("jti"), str):
            raise TokenError("Token has no id")
        super().verify(*args, **kwargs)


def string_claim(payload: dict[str, Any], name: str, max_length: int) -> str:
    value = payload.get(name)
    return UNSTORABLE_CHARACTERS.sub("", value)[:max_length] if isinstance(value, str) else ""


class BearerTokenAuthentication(JWTAuthentication):
    """Authenticates `Authorization: Bearer <JWT>` and returns the token's user.

    Contract: a missing header leaves the request anonymous (the permission then answers
    401); a present but invalid, expired or mis-signed token is a 401 with
    `WWW-Authenticate: Bearer`. The first valid token for an unknown `sub` creates the local
    user, with email and name from the claims when present, so staff see task owners.
    """

    def get_raw_token(self, header: bytes) -> bytes | None:
        # SimpleJWT treats a header with another scheme (or a bare token) as no header at all,
        # and the answer would be "credentials were not provided": say what is expected.
        parts = header.split()
        if parts and parts[0] not in AUTH_HEADER_TYPE_BYTES:
            raise AuthenticationFailed(
                "The Authorization header must be 'Bearer <token>'.",
                code="bad_authorization_header",
            )
        return super().get_raw_token(header)

    def get_validated_token(self, raw_token: bytes) -> Token:
        try:
            return BearerAccessToken(raw_token)
        except TokenError as exc:
            raise InvalidToken(str(exc.args[0])) from exc

    def get_user(self, validated_token: Token) -> User:
        user = User.objects.get_or_provision(
            validated_token["sub"],
            email=string_claim(validated_token.payload, "email", 254),
            name=string_claim(validated_token.payload, "name", 255),
        )
        if not user.is_active:
            raise AuthenticationFailed("This user is deactivated.", code="user_inactive")
        return user

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
