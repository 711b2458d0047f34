"""Bearer-token authentication: Better Auth's tokens (shared secret or JWKS) and our own."""

from typing import Any

from rest_framework.request import Request
from rest_framework_simplejwt.authentication import AUTH_HEADER_TYPE_BYTES, JWTAuthentication
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.tokens import AccessToken, Token

from accounts.models import USER_ID_RE, User
from accounts.tokens import better_auth_token_backend


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
        try:
            self.check_exp()
        except (OverflowError, OSError, ValueError) as exc:
            raise TokenError("Token 'exp' claim is not a valid time") from exc
        if self.payload.get("token_type", self.token_type) != self.token_type:
            raise TokenError("Token has wrong type")
        subject = self.payload.get("sub")
        if not isinstance(subject, str) or not USER_ID_RE.fullmatch(subject):
            raise TokenError("Token has no valid 'sub' claim")


def string_claim(payload: dict[str, Any], name: str, max_length: int) -> str:
    value = payload.get(name)
    # A display name is free text: a NUL would make PostgreSQL refuse the new user's row.
    return value.replace("\x00", "")[:max_length] if isinstance(value, str) else ""


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
