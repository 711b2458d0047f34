"""Local accounts: register (and verify the address), sign in, refresh, log out, reset the
password, and who am I."""

from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, AuthenticationFailed
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts.authentication import LocalRefreshToken
from accounts.emails import (
    EmailNotSent,
    password_reset_tokens,
    send_password_reset_email,
    send_verification_email,
    user_from_uid,
    verification_tokens,
)
from accounts.models import User, normalize_email
from accounts.serializers import (
    EMAIL_UNAVAILABLE,
    AccessTokenSerializer,
    DetailSerializer,
    LinkSerializer,
    LogoutSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    RefreshSerializer,
    RegisteredSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    TokenSerializer,
    UserSerializer,
)
from accounts.throttles import PerAddressRateThrottle
from core.openapi import error_response

INVALID_LINK = "This link is not valid, or it has expired."
EMAIL_UNSENT = "The email could not be sent; try again in a moment."


class EmailUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = EMAIL_UNSENT


class PublicAuthMixin:
    """Routes for people without a token yet: no authentication, throttled per address.

    The `auth` rate (AUTH_THROTTLE_RATE) is shared by every one of them, so guessing
    passwords, creating accounts and asking for emails draw on one budget per address.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [PerAddressRateThrottle]

    def get_authenticate_header(self, request: Request) -> str:
        # Without one, DRF turns a 401 (a refused refresh token) into a 403.
        return 'Bearer realm="api"'


def signed_in(user: User) -> dict[str, Any]:
    """`{"user", "access", "refresh"}`: a first pair of tokens for `user`."""
    refresh = RefreshToken.for_user(user)
    return {
        "user": UserSerializer(user).data,
        "access": str(refresh.access_token),
        "refresh": str(refresh),
    }


def invalid_link() -> serializers.ValidationError:
    return serializers.ValidationError({"token": [INVALID_LINK]})


class RegisterView(PublicAuthMixin, APIView):
    """`POST /api/auth/register`: a new local account; a taken email is a 400.

    With LOCAL_AUTH_EMAIL_VERIFICATION on (the default in production) the answer is a 202
    and a link is mailed to the address; the account gets tokens once it is followed
    (`verify-email`). Off, the answer is a 201 with a first pair of tokens.
    """

    serializer_class = RegisterSerializer

    @extend_schema(
        operation_id="register",
        tags=["auth"],
        responses={
            201: RegisteredSerializer,
            202: DetailSerializer,
            503: error_response(EMAIL_UNSENT),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.save()
        if not settings.LOCAL_AUTH_EMAIL_VERIFICATION:
            return Response(signed_in(user), status=status.HTTP_201_CREATED)
        try:
            send_verification_email(user)
        except EmailNotSent:
            user.delete()
            raise EmailUnavailable() from None
        detail = "Check your inbox: follow the link we sent to finish signing up."
        return Response({"detail": detail}, status=status.HTTP_202_ACCEPTED)


class VerifyEmailView(PublicAuthMixin, APIView):
    """`POST /api/auth/verify-email` `{"uid", "token"}` from the mailed link → 200
    `{"user", "access", "refresh"}`: the address is the account's from now on.

    A bad or used link is a 400; so is an address that another account verified first
    (the other unverified accounts that named it are then deleted).
    """

    serializer_class = LinkSerializer

    @extend_schema(operation_id="verifyEmail", tags=["auth"], responses={200: RegisteredSerializer})
    def post(self, request: Request) -> Response:
        serializer = LinkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_from_uid(serializer.validated_data["uid"])
        token = serializer.validated_data["token"]
        if user is None or user.email or not user.pending_email:
            raise invalid_link()
        if not user.is_active or not verification_tokens.check_token(user, token):
            raise invalid_link()
        email = user.pending_email
        try:
            with transaction.atomic():
                if User.objects.filter(email=email).exists():
                    raise serializers.ValidationError({"email": [EMAIL_UNAVAILABLE]})
                user.email, user.pending_email = email, ""
                user.save(update_fields=["email", "pending_email"])
                User.objects.filter(email=None, pending_email=email).delete()
        except IntegrityError:
            raise serializers.ValidationError({"email": [EMAIL_UNAVAILABLE]}) from None
        return Response(signed_in(user))


class PasswordResetView(PublicAuthMixin, APIView):
    """`POST /api/auth/password-reset` `{"email"}` → 202, whether or not an account has it.

    A local account with that (verified) address and a password gets a link to choose a
    new one; accounts that sign in through Better Auth have no password here and get none.
    """

    serializer_class = PasswordResetSerializer

    @extend_schema(
        operation_id="requestPasswordReset",
        tags=["auth"],
        responses={
            202: DetailSerializer,
            503: error_response("Password reset is not set up on this server."),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordResetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        email = normalize_email(serializer.validated_data["email"])
        if not settings.LOCAL_AUTH_PASSWORD_RESET_URL:
            raise EmailUnavailable("Password reset is not set up on this server.")
        for user in User.objects.filter(email=email, is_active=True):
            if user.has_usable_password():
                try:
                    send_password_reset_email(user)
                except EmailNotSent:
                    pass  # logged; the answer must not tell whether the account exists
        detail = "If an account has this address, a link to reset its password is on its way."
        return Response({"detail": detail}, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(PublicAuthMixin, APIView):
    """`POST /api/auth/password-reset/confirm` `{"uid", "token", "password"}` → 204.

    The new password must pass Django's validators (a 400 naming `password`); the link then
    stops working, and every refresh token the account had is revoked.
    """

    serializer_class = PasswordResetConfirmSerializer

    @extend_schema(operation_id="confirmPasswordReset", tags=["auth"], responses={204: None})
    def post(self, request: Request) -> Response:
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_from_uid(serializer.validated_data["uid"])
        token = serializer.validated_data["token"]
        if user is None or not user.is_active or not user.has_usable_password():
            raise invalid_link()
        if not password_reset_tokens.check_token(user, token):
            raise invalid_link()
        password = serializer.validated_data["password"]
        try:
            validate_password(password, user=user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        with transaction.atomic():
            user.set_password(password)
            user.save(update_fields=["password"])
            revoke_refresh_tokens(user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def revoke_refresh_tokens(user: User) -> None:
    outstanding = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )


class LogoutView(PublicAuthMixin, APIView):
    """`POST /api/auth/logout` `{"refresh"}` → 204: that refresh token works no more.

    Access tokens are not revoked: they expire on their own (JWT_ACCESS_TTL, 15 minutes).
    A token that is not a valid refresh token of this backend (or already revoked) is a 401.
    """

    serializer_class = LogoutSerializer

    @extend_schema(
        operation_id="logout",
        tags=["auth"],
        responses={204: None, 401: error_response("Not a valid refresh token.")},
    )
    def post(self, request: Request) -> Response:
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            LocalRefreshToken(serializer.validated_data["refresh"]).blacklist()
        except TokenError as exc:
            raise AuthenticationFailed("Not a valid refresh token.") from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    post=extend_schema(
        tags=["auth"],
        operation_id="obtainToken",
        responses={
            200: TokenPairSerializer,
            401: error_response("The email or password is not right."),
        },
    )
)
class TokenView(PublicAuthMixin, TokenObtainPairView):
    """`POST /api/auth/token` → 200 `{"access", "refresh", "user_id"}`; wrong credentials 401."""

    serializer_class = TokenSerializer


@extend_schema_view(
    post=extend_schema(
        tags=["auth"],
        operation_id="refreshToken",
        responses={
            200: AccessTokenSerializer,
            401: error_response("Not a valid refresh token of an active account."),
        },
    )
)
class RefreshView(PublicAuthMixin, TokenRefreshView):
    """`POST /api/auth/token/refresh` → 200 `{"access"}`; anything but a refresh token is 401."""

    serializer_class = RefreshSerializer


class MeView(APIView):
    """`GET /api/auth/me` → `{"id", "email", "name"}` of whoever any accepted token names."""

    permission_classes = [IsAuthenticated]
    serializer_class = UserSerializer

    @extend_schema(operation_id="getMe", tags=["auth"])
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)
