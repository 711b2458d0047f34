import hashlib

from django.conf import settings
from django.db import models


def ticket_digest(ticket: str) -> str:
    """Tickets are kept as digests: the table never holds anything that opens a stream."""
    return hashlib.sha256(ticket.encode()).hexdigest()


class EventTicket(models.Model):
    """A single-use pass to one user's event stream, for the browser's `EventSource`, which
    cannot send an `Authorization` header. Valid for a minute; the stream it opens ends when
    the token that asked for it expires."""

    digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    expires_at = models.DateTimeField()
    token_expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user_id} until {self.expires_at:%H:%M:%S}"
