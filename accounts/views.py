"""Local accounts (API.md §5): register, sign in, refresh, and who am I."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts.serializers import (
    AccessTokenSerializer,
    RefreshSerializer,
    RegisteredSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    TokenSerializer,
    UserSerializer,
)
from accounts.throttles import PerAddressRateThrottle
from core.openapi import error_response


class PublicAuthMixin:
    """Routes for people without a token yet: no authentication, throttled per address.

    The `auth` rate (AUTH_THROTTLE_RATE) is shared by register, token and refresh, so
    guessing passwords and creating accounts draw on one budget per client address.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [PerAddressRateThrottle]


class RegisterView(PublicAuthMixin, APIView):
    """`POST /api/auth/register` → 201 `{"user", "access", "refresh"}`; a taken email is a 400."""

    serializer_class = RegisterSerializer

    @extend_schema(operation_id="register", tags=["auth"], responses={201: RegisteredSerializer})
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.save()
        refresh = RefreshToken.for_user(user)
        body = {
            "user": UserSerializer(user).data,
            "access": str(refresh.access_token),
            "refresh": str(refresh),
        }
        return Response(body, status=status.HTTP_201_CREATED)


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
