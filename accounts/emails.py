"""The two emails a local account gets, and the one-time links in them.

Links carry the user's id and a token from Django's `PasswordResetTokenGenerator`: an HMAC
over the account's state with a timestamp, so a link works until `PASSWORD_RESET_TIMEOUT`
and only while that state is unchanged. A reset link dies when the password changes (its
hash is in the state); a verification link when the address is verified or changed.
"""

import logging
import smtplib
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.core import checks
from django.core.mail import send_mail
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts.models import User

logger = logging.getLogger(__name__)


class EmailNotSent(Exception):
    """The mail server did not take the message, or there is no page to link to."""


@checks.register(checks.Tags.security, deploy=True)
def check_link_pages(**kwargs) -> list[checks.CheckMessage]:
    """`check --deploy` warns when registration needs a verification page that is not set.

    (Password reset without its page is simply off: that route answers 503.)
    """
    if not (settings.LOCAL_AUTH_ENABLED and settings.LOCAL_AUTH_EMAIL_VERIFICATION):
        return []
    if settings.LOCAL_AUTH_VERIFY_EMAIL_URL:
        return []
    return [
        checks.Warning(
            "LOCAL_AUTH_VERIFY_EMAIL_URL is not set, so registration cannot mail its link "
            "(it answers 503). Set it to the frontend page that takes ?uid=…&token=…, or set "
            "LOCAL_AUTH_EMAIL_VERIFICATION=false.",
            id="accounts.W001",
        )
    ]


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    """Tokens for verification links: their own salt, over the address being verified."""

    key_salt = "accounts.emails.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        return f"{user.pk}{user.password}{user.pending_email}{user.email or ''}{timestamp}"


verification_tokens = EmailVerificationTokenGenerator()
password_reset_tokens = default_token_generator


def encode_uid(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def user_from_uid(uid: str) -> User | None:
    """The user a link's `uid` names, or None for anything else."""
    try:
        pk = force_str(urlsafe_base64_decode(uid))
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    return User.objects.filter(pk=pk).first()


def link(page: str, user: User, token: str) -> str:
    if not page:
        logger.error("A mailed link's page is not set: see docs/security.md")
        raise EmailNotSent("no page to link to")
    return f"{page}?{urlencode({'uid': encode_uid(user), 'token': token})}"


def send(subject: str, body: str, to: str) -> None:
    try:
        send_mail(subject, body, None, [to])
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("Could not send %r: %s", subject, exc)
        raise EmailNotSent from exc


def send_verification_email(user: User) -> None:
    url = link(settings.LOCAL_AUTH_VERIFY_EMAIL_URL, user, verification_tokens.make_token(user))
    send(
        "Confirm your email address",
        f"Follow this link to finish signing up:\n\n{url}\n\n"
        "If you did not sign up, ignore this email: nothing happens without the link.",
        user.pending_email,
    )


def send_password_reset_email(user: User) -> None:
    url = link(settings.LOCAL_AUTH_PASSWORD_RESET_URL, user, password_reset_tokens.make_token(user))
    send(
        "Reset your password",
        f"Follow this link to choose a new password:\n\n{url}\n\n"
        "If you did not ask for this, ignore this email: your password stays as it is.",
        user.email,
    )
