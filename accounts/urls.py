"""`/api/auth/...`: present only while LOCAL_AUTH_ENABLED is on (off, they are 404s)."""

from django.conf import settings
from django.urls import re_path

from accounts.views import (
    LogoutView,
    MeView,
    PasswordResetConfirmView,
    PasswordResetView,
    RefreshView,
    RegisterView,
    TokenView,
    VerifyEmailView,
)

local_auth_patterns = [
    re_path(r"^register/?$", RegisterView.as_view(), name="auth-register"),
    re_path(r"^verify-email/?$", VerifyEmailView.as_view(), name="auth-verify-email"),
    re_path(r"^password-reset/?$", PasswordResetView.as_view(), name="auth-password-reset"),
    re_path(
        r"^password-reset/confirm/?$",
        PasswordResetConfirmView.as_view(),
        name="auth-password-reset-confirm",
    ),
    re_path(r"^logout/?$", LogoutView.as_view(), name="auth-logout"),
    re_path(r"^token/?$", TokenView.as_view(), name="auth-token"),
    re_path(r"^token/refresh/?$", RefreshView.as_view(), name="auth-token-refresh"),
    re_path(r"^me/?$", MeView.as_view(), name="auth-me"),
]

urlpatterns = local_auth_patterns if settings.LOCAL_AUTH_ENABLED else []
