"""Users, keyed by the opaque string id that Better Auth (or this backend) issues."""

import functools
import re
import string

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import RegexValidator
from django.db import IntegrityError, connection, models
from django.utils import timezone
from django.utils.crypto import get_random_string

# Better Auth's ids are 32 alphanumeric characters; UUIDs and other base64url-alphabet ids
# up to 128 characters are accepted too, so every id is safe in a URL path as it is.
USER_ID_PATTERN = r"[A-Za-z0-9_-]{1,128}"
USER_ID_RE = re.compile(USER_ID_PATTERN)


def generate_user_id() -> str:
    """A new id shaped like Better Auth's: 32 random alphanumeric characters."""
    return get_random_string(32, string.ascii_letters + string.digits)


def normalize_email(email: str | None) -> str | None:
    """Emails are compared case-insensitively, so they are stored lower-case; blank is None."""
    email = (email or "").strip().lower()
    return email or None


REQUEST_USER_FIELDS = ["id", "email", "name", "is_active", "is_staff", "tasks_version"]


@functools.cache
def request_user_sql() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(User._meta.get_field(name).column) for name in REQUEST_USER_FIELDS)
    return f"SELECT {columns} FROM {quote(User._meta.db_table)} WHERE {quote('id')} = %s"


class UserManager(BaseUserManager["User"]):
    def get_by_natural_key(self, email: str | None) -> "User":
        return self.get(email=normalize_email(email))

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)

    def for_request(self, user_id: str) -> "User | None":
        """The user a request is served for, with only the columns a request reads.

        This runs on every authenticated request, so it skips the ORM's query building (two
        thirds of a `get()`'s cost here); any other field loads on first access.
        """
        with connection.cursor() as cursor:
            cursor.execute(request_user_sql(), [user_id])
            row = cursor.fetchone()
        return None if row is None else self.model.from_db(self.db, REQUEST_USER_FIELDS, row)

    def get_or_provision(self, user_id: str, email: str | None, name: str) -> "User":
        """The user a verified token speaks for, created on its first request.

        `get_or_create` makes concurrent first requests safe: the losers of the insert race
        read the winner's row. When the token's email already belongs to another account
        (a local one, say), the user is still created, without the email.
        """
        user = self.for_request(user_id)
        if user is not None:
            return user
        # Only a new user pays for the defaults (an unusable password is 40 random characters).
        defaults = {"email": normalize_email(email), "name": name, "password": make_password(None)}
        try:
            return self.get_or_create(id=user_id, defaults=defaults)[0]
        except IntegrityError:
            return self.get_or_create(id=user_id, defaults={**defaults, "email": None})[0]


class User(AbstractBaseUser, PermissionsMixin):
    """A person who owns tasks. Staff sign in to the admin with email and password."""

    id = models.CharField(
        primary_key=True,
        max_length=128,
        default=generate_user_id,
        validators=[RegexValidator(f"^{USER_ID_PATTERN}$", "Not a valid user id.")],
    )
    email = models.EmailField(unique=True, null=True, blank=True)
    # A local account's address until its owner follows the verification link; only then is
    # it moved to `email`, which is unique. So an address nobody has proved they read never
    # blocks the account it belongs to (a Better Auth user's, say) from having it.
    # db_default too: code from before this column (a rolling upgrade) inserts users without it.
    pending_email = models.EmailField(
        blank=True, default="", db_default="", db_index=True, editable=False
    )
    name = models.CharField(max_length=255, blank=True, default="")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Bumped in the same transaction as every write to this user's tasks; cached task reads
    # and list ETags are keyed by it (tasks/caching.py).
    tasks_version = models.PositiveBigIntegerField(default=0, editable=False)
    # Whether the user has an active webhook: kept in step, under this row's lock, by
    # notifications/webhooks.py, and read by the write path's lock of this row, so that a
    # write with nothing to deliver does not look for webhooks.
    has_active_webhooks = models.BooleanField(default=False, db_default=False, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["-date_joined"]

    def __str__(self) -> str:
        return self.email or self.name or self.id

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)

    def save(self, *args, **kwargs) -> None:
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)
