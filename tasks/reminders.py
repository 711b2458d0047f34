"""A task's reminders: what a client sends, what the task stores and answers, and when each
fires.

A client sends up to MAX_REMINDERS of `{"before_due_minutes": n}` (n minutes before the
task's `due_at`) or `{"at": <datetime>}`. The task stores them in its `reminders` JSON
column in the shape it answers, each with its `fire_at` (`resolve`), so that reading a task
costs nothing more; tasks.services keeps the schedule the firing claims from
(`tasks.models.Reminder`) in step with that column.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError

from tasks.datetimes import OFFSET_REQUIRED, parse_aware_datetime, rfc3339

MAX_REMINDERS = 5
MAX_MINUTES_BEFORE = 40320  # 28 days
RELATIVE_NEEDS_DUE_AT = (
    "A reminder before the due time (before_due_minutes) needs a due_at; "
    "set one, or remind at a fixed time with at."
)
AT_FORMAT = "at must be an RFC 3339 datetime, e.g. 2026-11-23T10:00:00Z."
SHAPE = 'Each reminder is {"before_due_minutes": <minutes>} or {"at": <datetime>}.'


def parse(value: Any) -> list[dict[str, Any]]:
    """The reminders a client sent (None: none), as `{"before_due_minutes": int}` or
    `{"at": aware datetime}` each, without repeats, in the order given. A read-only
    `fire_at` sent back with one is ignored. Raises ValidationError with the reason."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError('Reminders must be a list, e.g. [{"before_due_minutes": 15}].')
    parsed: list[dict[str, Any]] = []
    for item in value:
        if not isinstance(item, dict):
            raise ValidationError(SHAPE)
        keys = set(item) - {"fire_at"}
        if keys == {"before_due_minutes", "at"}:
            raise ValidationError("Send before_due_minutes or at in a reminder, not both.")
        if keys == {"before_due_minutes"}:
            minutes = item["before_due_minutes"]
            # bool is an int in Python; true is no number of minutes.
            if isinstance(minutes, bool) or not isinstance(minutes, int):
                raise ValidationError("before_due_minutes must be a whole number of minutes.")
            if not 0 <= minutes <= MAX_MINUTES_BEFORE:
                raise ValidationError(
                    f"before_due_minutes must be from 0 to {MAX_MINUTES_BEFORE} (28 days)."
                )
            reminder: dict[str, Any] = {"before_due_minutes": minutes}
        elif keys == {"at"}:
            try:
                reminder = {"at": parse_aware_datetime(item["at"]).astimezone(UTC)}
            except ValueError as error:
                missing_offset = str(error) == OFFSET_REQUIRED
                raise ValidationError(f"at: {error}" if missing_offset else AT_FORMAT) from None
        else:
            raise ValidationError(SHAPE)
        if reminder not in parsed:
            parsed.append(reminder)
    if len(parsed) > MAX_REMINDERS:
        raise ValidationError(f"A task carries at most {MAX_REMINDERS} reminders.")
    return parsed


def is_relative(reminder: dict[str, Any]) -> bool:
    return "before_due_minutes" in reminder


def resolve(reminders: list[dict[str, Any]], due_at: datetime | None) -> list[dict[str, Any]]:
    """Parsed (or stored) reminders in the shape a task stores and answers: each with its
    `fire_at`, datetimes as RFC 3339 text in UTC. Raises ValidationError when one is relative
    and there is no `due_at`."""
    stored = []
    for reminder in reminders:
        if is_relative(reminder):
            if due_at is None:
                raise ValidationError(RELATIVE_NEEDS_DUE_AT)
            minutes = reminder["before_due_minutes"]
            fire_at = due_at - timedelta(minutes=minutes)
            stored.append({"before_due_minutes": minutes, "fire_at": rfc3339(fire_at)})
        else:
            at = reminder["at"]
            at = at if isinstance(at, datetime) else datetime.fromisoformat(at)
            stored.append({"at": rfc3339(at), "fire_at": rfc3339(at)})
    return stored


def fire_times(stored: list[dict[str, Any]]) -> list[datetime]:
    """When each stored reminder fires."""
    return [datetime.fromisoformat(reminder["fire_at"]) for reminder in stored]


def describe(stored: list[dict[str, Any]]) -> str:
    """Stored reminders as staff type them in the admin: `15, 2026-12-01T09:00:00Z`."""
    return ", ".join(
        str(reminder["before_due_minutes"]) if is_relative(reminder) else reminder["at"]
        for reminder in stored
    )
