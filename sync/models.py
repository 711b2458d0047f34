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


class FiredReminder(models.Model):
    """A reminder that fired, kept a few minutes for the user's open event streams: every
    stream, in whichever process, reads the ones fired since it opened (sync/live.py), so a
    firing reaches it with or without Redis, which only wakes it. Written by the firing's
    transaction (the `reminder_fired` receiver), so a firing that rolls back is never seen;
    never replayed to a stream opened after it; purged by `purge_fired_reminders`."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, db_index=False)
    fired_at = models.DateTimeField()
    payload = models.JSONField()

    class Meta:
        indexes = [
            models.Index(fields=["user", "fired_at"], name="firedreminder_user_idx"),
            models.Index(fields=["fired_at"], name="firedreminder_age_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} at {self.fired_at:%H:%M:%S}"
