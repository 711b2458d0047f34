"""Change feed cursors: opaque to clients, signed so that a cursor this server did not issue
(or issued to another user) is refused, and dated so that one older than the retention of
deletions is known to be expired.

A cursor names the last change a client has seen, by id. One owner's changes are numbered in
the order their writes commit (tasks.models.write_trigger), so "every change after this id"
never skips a change that committed late.
"""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from rest_framework.exceptions import APIException, ValidationError

# Deletions are purged after CHANGES_RETENTION_DAYS; a cursor expires a little before, so
# that no purge can have run between its issue and its use.
EXPIRY_MARGIN = timedelta(hours=1)


class CursorExpired(APIException):
    status_code = 410
    default_detail = (
        "This cursor is older than the changes this server keeps: load everything again, "
        "then follow the new cursor."
    )
    default_code = "cursor_expired"


def signer(user_id: str) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=f"sync.changes:{user_id}")


def issue(user_id: str, change_id: int) -> str:
    return signer(user_id).sign(str(change_id))


def read(user_id: str, cursor: str, parameter: str = "since") -> int:
    """The change id a cursor names; 400 naming `parameter` when it is not one of ours, 410
    when it has expired."""
    max_age = timedelta(days=settings.CHANGES_RETENTION_DAYS) - EXPIRY_MARGIN
    try:
        return int(signer(user_id).unsign(cursor, max_age=max_age))
    except signing.SignatureExpired:
        raise CursorExpired() from None
    except (signing.BadSignature, ValueError):
        raise ValidationError(
            {parameter: ["Not a cursor from this server: use one that a change feed answered."]}
        ) from None
