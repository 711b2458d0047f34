"""Datetimes as the API reads and writes them: RFC 3339, with an offset, answered in UTC."""

from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

OFFSET_REQUIRED = (
    "Send the time zone offset with the datetime, e.g. 2026-11-23T10:00:00Z "
    "or 2026-11-23T11:00:00+01:00."
)


def parse_aware_datetime(value: Any) -> datetime:
    """An RFC 3339 datetime that names its offset; raises ValueError with a reason otherwise.

    A datetime without an offset is ambiguous (whose 10:00?), so it is refused rather than
    guessed: guessing is where due-date time zone bugs come from.
    """
    if not isinstance(value, str):
        raise ValueError("Send the datetime as an RFC 3339 string, e.g. 2026-11-23T10:00:00Z.")
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError(
            "Not an RFC 3339 datetime, e.g. 2026-11-23T10:00:00Z "
            "(in a query string, write a + offset as %2B)."
        )
    if parsed.tzinfo is None:
        raise ValueError(OFFSET_REQUIRED)
    return parsed


def rfc3339(moment: datetime | None) -> str | None:
    """As DRF writes datetimes: ISO 8601 in UTC, with a `Z`."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
