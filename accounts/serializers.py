"""Bodies of the local-account routes (docs/security.md)."""

from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer

from accounts.authentication import LocalRefreshToken
from accounts.models import USER_ID_RE, User, normalize_email

# One sentence for a taken email, whoever holds it: it says no more than that the address
# cannot be used, not whose it is or how that account signs in.
EMAIL_UNAVAILABLE = "This email cannot be used to register."
EMAIL_NOT_VERIFIED = "Confirm your email address first: follow the link we sent to it."


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "name"]
        read_only_fields = fields


class RegisteredSerializer(serializers.Serializer):
    """Response of register: the new user and a first pair of tokens (for the schema)."""

    user = UserSerializer()
    access = serializers.CharField()
    refresh = serializers.CharField()


class TokenPairSerializer(serializers.Serializer):
    """Response of sign-in: a pair of tokens and whose they are (for the schema)."""

    access = serializers.CharField()
    refresh = serializers.CharField()
    user_id = serializers.CharField()


class AccessTokenSerializer(serializers.Serializer):
    """Response of refresh: a new access token, and nothing else (for the schema)."""

    access = serializers.CharField()


class RegisterSerializer(serializers.Serializer):
    """`{"email", "password", "name"?}`: a new local account with Django's password rules."""

    email = serializers.EmailField(max_length=254)
    # Bounded so that hashing a huge "password" cannot be used to burn CPU.
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=256)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    def validate_email(self, email: str) -> str:
        email = normalize_email(email)
        if User.objects.filter(email=email).exists():
            raise serializers.ValidationError(EMAIL_UNAVAILABLE)
        return email

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        candidate = User(email=attrs["email"], name=attrs["name"])
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs

    def create(self, validated_data: dict[str, Any]) -> User:
        if settings.LOCAL_AUTH_EMAIL_VERIFICATION:
            # Not the address yet: it is moved to `email` once the link in it is followed.
            email = validated_data.pop("email")
            return User.objects.create_user(None, pending_email=email, **validated_data)
        try:
            with transaction.atomic():
                return User.objects.create_user(**validated_data)
        except IntegrityError:
            # Another request registered the same email between our check and the insert.
            raise serializers.ValidationError({"email": [EMAIL_UNAVAILABLE]}) from None


class TokenSerializer(TokenObtainPairSerializer):
    """`{"email", "password"}` → `{"access", "refresh", "user_id"}`; anything wrong is a 401.

    The right password of an account whose address is not verified yet is a 403 saying so
    (only someone who knows the password learns that the account exists).
    """

    default_error_messages = {"no_active_account": "The email or password is not right."}

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        try:
            tokens = super().validate(attrs)
        except AuthenticationFailed:
            if self.awaits_verification(attrs["email"], attrs["password"]):
                raise PermissionDenied(EMAIL_NOT_VERIFIED) from None
            raise
        return {**tokens, "user_id": self.user.pk}

    @staticmethod
    def awaits_verification(email: str, password: str) -> bool:
        # A few at most: anyone may register an address, but each costs a password hash here.
        pending = User.objects.filter(
            email=None, pending_email=normalize_email(email), is_active=True
        )[:3]
        return any(user.check_password(password) for user in pending)


class LinkSerializer(serializers.Serializer):
    """`{"uid", "token"}`: the two query parameters of a mailed link."""

    uid = serializers.CharField(max_length=200)
    token = serializers.CharField(max_length=200)


class PasswordResetSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(LinkSerializer):
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=256)


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class DetailSerializer(serializers.Serializer):
    """A one-sentence answer (for the schema)."""

    detail = serializers.CharField()


class RefreshSerializer(TokenRefreshSerializer):
    """`{"refresh"}` → `{"access"}`, only for a refresh token issued here to an active user.

    Access tokens and Better Auth's tokens carry no `token_type: refresh`, so SimpleJWT's
    RefreshToken refuses them (the view answers 401).
    """

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        refresh = LocalRefreshToken(attrs["refresh"])
        subject = refresh.payload.get("sub")
        is_well_formed = isinstance(subject, str) and USER_ID_RE.fullmatch(subject)
        if not is_well_formed or not User.objects.filter(pk=subject, is_active=True).exists():
            raise AuthenticationFailed("No active account found for the given token.")
        return {"access": str(refresh.access_token)}
