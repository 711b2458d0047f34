"""Recurring tasks: RFC 5545 ``RRULE`` values, checked and expanded in the task's time zone.

A recurring task stores its rule as an ``RRULE`` value without the ``RRULE:`` prefix
(``FREQ=WEEKLY;BYDAY=MO,WE``), an IANA time zone, and its series' start: the first task's
``due_at``. This module is pure (no database, no settings): python-dateutil parses and
expands the rule, :mod:`zoneinfo` maps wall times to instants.

Expansion happens in local wall time: the series start is converted to the task's zone,
dateutil expands the rule from that naive local start, and each naive result is given the
zone again and converted to UTC. So "every day at 09:00 in Europe/Berlin" stays at 09:00
local time across daylight-saving changes (07:00 UTC in summer, 08:00 UTC in winter).
Wall times that a zone skips or repeats follow :mod:`zoneinfo`'s ``fold=0`` rule:

* a time in a spring-forward gap (02:30 on the night Berlin jumps from 02:00 to 03:00) is
  read with the offset in force before the jump, which is the instant the clock shows as
  03:30: the occurrence still happens, one gap length later on the wall clock;
* a time repeated at fall-back (02:30 twice) is the first of the two instants.

Occurrences fall on whole seconds (dateutil drops the start's microseconds).

Cost: dateutil checks UNTIL only against occurrences it produces, so a rule that matches
nothing at all makes it walk period by period to the year 9999 (about half a second for a
yearly rule, seconds for a daily one). :func:`validate_rule` refuses the cheaply visible
cases (days that no listed month has, BYSETPOS beyond every period's set), which is what
keeps that walk away from stored rules; a contrived rule that slips through costs its own
request that time once, never an endless loop.
"""

import calendar
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import chain, islice
from zoneinfo import ZoneInfo, available_timezones

from dateutil.rrule import rrule, rrulestr

MAX_RULE_LENGTH = 500


_FREQUENCIES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY")
_PARTS = (
    "FREQ",
    "UNTIL",
    "COUNT",
    "INTERVAL",
    "BYSECOND",
    "BYMINUTE",
    "BYHOUR",
    "BYDAY",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
)
# Allowed values of the numeric list parts: (lowest, highest, negatives allowed).
_RANGES = {
    "BYSECOND": (0, 59, False),
    "BYMINUTE": (0, 59, False),
    "BYHOUR": (0, 23, False),
    "BYMONTHDAY": (1, 31, True),
    "BYYEARDAY": (1, 366, True),
    "BYWEEKNO": (1, 53, True),
    "BYMONTH": (1, 12, False),
    "BYSETPOS": (1, 366, True),
}
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_UNTIL = re.compile(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z?))?")
_WHOLE_NUMBER = re.compile(r"[1-9]\d{0,8}")
_NUMBER = re.compile(r"[+-]?\d{1,3}")
_BYDAY = re.compile(r"([+-]?[1-9]\d?)?(MO|TU|WE|TH|FR|SA|SU)")
# Days per month in a leap year: a month day or year day that fits none of the rule's months
# in any year can never occur.
_MONTH_LENGTHS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

__all__ = [
    "MAX_RULE_LENGTH",
    "RecurrenceError",
    "describe_rule",
    "next_occurrence",
    "occurrences",
    "validate_rule",
    "validate_timezone",
]


class RecurrenceError(ValueError):
    """A recurrence rule or time zone that cannot be used.

    ``str(error)`` is one plain sentence saying what is wrong, fit to show to an API client.
    """


class _NeverOccurs(RecurrenceError):
    """dateutil found that the rule produces nothing from the start it was given."""


def validate_rule(text: str) -> str:
    """Return the normalised form of an ``RRULE`` value, or raise :class:`RecurrenceError`.

    Normalising strips surrounding whitespace, upper-cases names and values and drops empty
    parts (a trailing ``;``); the order of the parts is kept. Refused, each with its own
    message: a non-string or empty value, more than ``MAX_RULE_LENGTH`` characters, an
    ``RRULE:`` prefix, ``DTSTART`` (the series' first ``due_at`` is its start), anything
    that is not ``NAME=VALUE;...`` on one line, unknown or repeated parts, a missing
    ``FREQ``, ``FREQ=SECONDLY`` and ``FREQ=MINUTELY``, out-of-range numbers, ``COUNT`` with
    ``UNTIL``, what dateutil cannot parse, and rules that can never produce an occurrence
    where that is cheap to see (the 30th of February).
    """
    return _join(_checked(text))


def _checked(text: str) -> dict[str, str]:
    parts = _parse(text)
    try:
        # dateutil checks what is left; the start is arbitrary and nothing is expanded.
        _build(parts, datetime(2000, 1, 1))
    except _NeverOccurs:
        # An HOURLY rule whose INTERVAL misses its BYHOUR hours from this start may reach
        # them from the real one: expansion decides (see _series).
        pass
    return parts


@cache
def _zone_names() -> frozenset[str]:
    # Computed once: scanning the zone database takes tens of milliseconds.
    return frozenset(available_timezones())


def validate_timezone(name: str) -> str:
    """Return ``name`` if it is an IANA time zone known to :mod:`zoneinfo`.

    Otherwise raise :class:`RecurrenceError`. Only names in the installed zone database are
    accepted (compared exactly, as zone names are case-sensitive), so empty strings, paths
    (``../etc/passwd``, ``/etc/localtime``), NUL bytes and the database's own non-zone
    files never reach the file system.
    """
    if not isinstance(name, str) or not name.strip():
        raise RecurrenceError("The time zone is empty: give an IANA name such as Europe/Berlin.")
    if name not in _zone_names():
        raise RecurrenceError(
            f"Unknown time zone {name[:64]!r}: give an IANA name such as Europe/Berlin or UTC."
        )
    return name


def next_occurrence(rule: str, tz: str, series_start: datetime, after: datetime) -> datetime | None:
    """Return the series' first occurrence strictly later than ``after``, or ``None``.

    ``rule`` is an ``RRULE`` value, ``tz`` the IANA zone in which it is expanded,
    ``series_start`` the aware first ``due_at`` of the series (the rule's DTSTART, so
    ``COUNT`` and ``UNTIL`` count from there) and ``after`` an aware instant; to schedule
    the task that follows a completed one, pass ``max(completed due_at, now)``. The result
    is an aware UTC datetime. ``None`` means the series is over (``COUNT`` used up,
    ``UNTIL`` passed) or never matches at all.

    As RFC 5545 says, the start is always the series' first occurrence and counts towards
    ``COUNT``, even when it does not match the rule (a Tuesday start of
    ``FREQ=WEEKLY;BYDAY=MO``). A ``UNTIL`` in UTC (``...Z``) is that instant; a floating
    one (``20270101T120000``) is a wall time in ``tz``; a date (``20270101``) includes that
    whole local day. Raises :class:`RecurrenceError` for an invalid rule or zone and
    ``ValueError`` for naive datetimes. Cost does not grow with the age of the series for
    rules without ``COUNT``; with ``COUNT`` it grows with ``COUNT``.
    """
    return next(_instants(rule, tz, series_start, after), None)


def occurrences(
    rule: str, tz: str, series_start: datetime, after: datetime, count: int
) -> list[datetime]:
    """Return up to ``count`` occurrences strictly later than ``after``, in order.

    The same series as :func:`next_occurrence` (which is the first of these); fewer than
    ``count`` when the series ends sooner. For previews. ``count`` must be >= 0.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a whole number >= 0, not {count!r}.")
    return list(islice(_instants(rule, tz, series_start, after), count))


def describe_rule(rule: str) -> str:
    """Return the rule in plain English ("every week on Monday and Wednesday, 10 times").

    Covers the common shapes: a frequency with an interval, weekdays, month days (the last
    day too), the n-th weekday of a month, a yearly date, ``COUNT`` and ``UNTIL``. Anything
    else (``BYSETPOS``, ``BYHOUR``, week numbers, an invalid rule) comes back as the raw
    rule text, which is always a correct description.
    """
    try:
        parts = _parse(rule)
        return _describe(parts)
    except (ValueError, KeyError):
        return rule.strip() if isinstance(rule, str) else str(rule)


def _parse(text: str) -> dict[str, str]:
    """Split and check a rule without dateutil; return its parts in their order."""
    if not isinstance(text, str):
        raise RecurrenceError("The recurrence rule must be text, such as FREQ=DAILY.")
    rule = text.strip()
    if not rule:
        raise RecurrenceError("The recurrence rule is empty: give a rule such as FREQ=DAILY.")
    if len(rule) > MAX_RULE_LENGTH:
        raise RecurrenceError(
            f"The recurrence rule is {len(rule)} characters long; at most "
            f"{MAX_RULE_LENGTH} are allowed."
        )
    upper = rule.upper()
    if upper.startswith("RRULE:"):
        raise RecurrenceError(
            'Give the recurrence rule without its "RRULE:" prefix, for example '
            "FREQ=WEEKLY;BYDAY=MO."
        )
    if "DTSTART" in upper:
        raise RecurrenceError(
            "The recurrence rule cannot contain DTSTART: the task's due date is the first "
            "occurrence."
        )
    if ":" in rule or any(character.isspace() for character in rule):
        # dateutil would read such text as several properties (EXDATE, RDATE, a second
        # RRULE), which this field does not store.
        raise RecurrenceError(
            "The recurrence rule must be a single RRULE value on one line: NAME=VALUE parts "
            "separated by semicolons, without spaces."
        )
    parts: dict[str, str] = {}
    for part in upper.split(";"):
        if not part:
            continue
        name, equals, value = part.partition("=")
        if not equals or not name or not value:
            raise RecurrenceError(
                f'The recurrence rule part "{part[:40]}" is not of the form NAME=VALUE.'
            )
        if name not in _PARTS:
            raise RecurrenceError(
                f"{name[:40]} is not a part of a recurrence rule; the parts are "
                f"{', '.join(_PARTS[:-1])} and {_PARTS[-1]}."
            )
        if name in parts:
            raise RecurrenceError(f"{name} appears more than once in the recurrence rule.")
        parts[name] = value
    _check_parts(parts)
    return parts


def _check_parts(parts: dict[str, str]) -> None:
    frequency = parts.get("FREQ")
    if frequency is None:
        raise RecurrenceError("The recurrence rule needs a FREQ part, such as FREQ=DAILY.")
    if frequency in ("SECONDLY", "MINUTELY"):
        raise RecurrenceError(
            f"FREQ={frequency} is not supported: a task can repeat at most every hour."
        )
    if frequency not in _FREQUENCIES:
        raise RecurrenceError(
            f"FREQ must be YEARLY, MONTHLY, WEEKLY, DAILY or HOURLY, not {frequency[:20]}."
        )
    for name in ("COUNT", "INTERVAL"):
        if name in parts and not _WHOLE_NUMBER.fullmatch(parts[name]):
            raise RecurrenceError(f"{name} must be a whole number of 1 or more.")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError("A recurrence rule can have COUNT or UNTIL, but not both.")
    if "UNTIL" in parts:
        _until_parts(parts["UNTIL"])
    if "WKST" in parts and parts["WKST"] not in _WEEKDAYS:
        raise RecurrenceError("WKST must be one of MO, TU, WE, TH, FR, SA or SU.")
    if "BYDAY" in parts:
        for day in parts["BYDAY"].split(","):
            match = _BYDAY.fullmatch(day)
            if not match or (match.group(1) and abs(int(match.group(1))) > 53):
                raise RecurrenceError(
                    f'BYDAY must list weekdays such as MO,WE or 1MO,-1FR; "{day[:20]}" is not one.'
                )
            if match.group(1) and frequency not in ("MONTHLY", "YEARLY"):
                raise RecurrenceError(
                    "A numbered weekday in BYDAY (such as 1MO) needs FREQ=MONTHLY or FREQ=YEARLY."
                )
    for name, (low, high, negative) in _RANGES.items():
        if name in parts:
            for number in _numbers(parts[name]):
                if not (low <= number <= high or (negative and -high <= number <= -low)):
                    allowed = f"{low} to {high}" + (f" or -{high} to -{low}" if negative else "")
                    raise RecurrenceError(f"{name} values must be {allowed}; {number} is not.")
    _check_possible(parts)
    _check_setpos(parts)


def _numbers(value: str) -> list[int]:
    items = value.split(",")
    if not all(_NUMBER.fullmatch(item) for item in items):
        raise RecurrenceError(f'The list "{value[:40]}" is not a list of whole numbers.')
    return [int(item) for item in items]


def _check_possible(parts: dict[str, str]) -> None:
    """Refuse rules whose month days or year days fit none of their months."""
    if "BYMONTH" not in parts:
        return
    months = _numbers(parts["BYMONTH"])
    if "BYMONTHDAY" in parts and not any(
        abs(day) <= _MONTH_LENGTHS[month - 1]
        for day in _numbers(parts["BYMONTHDAY"])
        for month in months
    ):
        raise RecurrenceError(
            "The recurrence rule can never occur: none of its BYMONTHDAY days exists in its "
            "BYMONTH months."
        )
    if "BYYEARDAY" in parts:
        possible = set()
        for year in (2023, 2024):  # a common and a leap year
            length = 366 if calendar.isleap(year) else 365
            for day in _numbers(parts["BYYEARDAY"]):
                if abs(day) <= length:
                    ordinal = day - 1 if day > 0 else length + day
                    possible.add((date(year, 1, 1) + timedelta(days=ordinal)).month)
        if not possible & set(months):
            raise RecurrenceError(
                "The recurrence rule can never occur: none of its BYYEARDAY days falls in "
                "its BYMONTH months."
            )


def _check_setpos(parts: dict[str, str]) -> None:
    """Refuse BYSETPOS values beyond the largest set any period of the rule can have."""
    if "BYSETPOS" not in parts:
        return
    frequency = parts["FREQ"]
    times = 1
    for name in ("BYSECOND", "BYMINUTE") + (() if frequency == "HOURLY" else ("BYHOUR",)):
        if name in parts:
            times *= len(set(_numbers(parts[name])))
    days = {"YEARLY": 366, "MONTHLY": 31, "WEEKLY": 7}.get(frequency, 1)
    if all(abs(position) > days * times for position in _numbers(parts["BYSETPOS"])):
        raise RecurrenceError(
            "The recurrence rule can never occur: BYSETPOS picks beyond the occurrences that "
            "one period of the rule can have."
        )


def _until_parts(value: str) -> tuple[datetime, str]:
    """Parse UNTIL into (naive datetime, form); form is "date", "floating" or "utc"."""
    match = _UNTIL.fullmatch(value)
    try:
        if not match:
            raise ValueError(value)
        year, month, day, hour, minute, second, utc = match.groups()
        if hour is None:
            return datetime(int(year), int(month), int(day), 23, 59, 59), "date"
        moment = datetime(*map(int, (year, month, day, hour, minute, second)))
        return moment, "utc" if utc else "floating"
    except ValueError:
        raise RecurrenceError(
            "UNTIL must be a date such as 20270101 or a time such as 20270101T000000Z."
        ) from None


def _join(parts: dict[str, str]) -> str:
    return ";".join(f"{name}={value}" for name, value in parts.items())


def _build(parts: dict[str, str], start: datetime, until: datetime | None = None) -> rrule:
    """The dateutil rule for ``parts`` from the naive local ``start``.

    ``until`` (naive local) replaces the rule's own UNTIL; COUNT is left to the caller.
    """
    text = _join({name: value for name, value in parts.items() if name not in ("UNTIL", "COUNT")})
    if "WKST" not in parts:
        # dateutil's default week start is calendar.firstweekday(), process-wide state;
        # RFC 5545's default is Monday.
        text += ";WKST=MO"
    try:
        built = rrulestr(text, dtstart=start)
        if until is not None:
            built = built.replace(until=until)
    except ValueError as error:
        reason = str(error)
        if "empty set" in reason or "empty rule" in reason:
            raise _NeverOccurs(
                "The recurrence rule can never occur: its INTERVAL never reaches its BYHOUR hours."
            ) from None
        raise RecurrenceError(_plain(reason)) from None
    return built


def _plain(reason: str) -> str:
    """dateutil's ValueError text as a sentence."""
    invalid = re.fullmatch(r"invalid '(\w+)': (.*)", reason)
    if invalid:
        return f"The value {invalid.group(2)[:40]} of {invalid.group(1)} is not valid."
    return f"The recurrence rule does not parse: {reason.rstrip('.')}."


def _until_local(parts: dict[str, str], zone: ZoneInfo) -> datetime | None:
    if "UNTIL" not in parts:
        return None
    moment, form = _until_parts(parts["UNTIL"])
    if form == "utc":
        # dateutil wants UNTIL naive when DTSTART is: the same instant as local wall time.
        return moment.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
    return moment


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime.")
    return value


def _instants(rule: str, tz: str, series_start: datetime, after: datetime) -> Iterator[datetime]:
    """The series' occurrences strictly later than ``after``, as aware UTC datetimes.

    Checks its arguments at once (not on the first ``next``), so that even a preview of
    zero occurrences refuses a bad rule.
    """
    parts = _checked(rule)
    zone = ZoneInfo(validate_timezone(tz))
    after = _aware(after, "after").astimezone(UTC)
    start = _aware(series_start, "series_start").astimezone(zone)
    start = start.replace(tzinfo=None, microsecond=0)
    after_local = after.astimezone(zone).replace(tzinfo=None)
    until = _until_local(parts, zone)
    series = _series(parts, start, until)

    candidates: Iterator[datetime]
    shifted = None if "COUNT" in parts else _fast_forward(parts, start, after_local)
    if shifted is not None:
        # Far past the start, which therefore is not a candidate.
        candidates = _series(_pinned(parts, start), shifted, until)
    else:
        # The start is the first occurrence even when the rule does not produce it, and
        # counts towards COUNT (RFC 5545); dateutil counts only what it produces.
        first = next(_series(parts, start, until), None)
        own = series if first == start else chain([start], series)
        candidates = islice(own, int(parts["COUNT"])) if "COUNT" in parts else own
    return _later(candidates, zone, after)


def _series(parts: dict[str, str], start: datetime, until: datetime | None) -> Iterator[datetime]:
    """The rule's own occurrences from ``start``, naive local; none if it can reach none."""
    try:
        built = _build(parts, start, until)
    except _NeverOccurs:
        # Which hours an HOURLY rule with INTERVAL reaches depends on the start's hour,
        # which validate_rule could not know: such a series is just its start.
        return
    try:
        yield from built
    except ValueError:
        # dateutil finds some empty combinations only while iterating; same meaning.
        return


def _later(candidates: Iterator[datetime], zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
    for local in candidates:
        # fold=0: see the module docstring for skipped and repeated wall times.
        instant = local.replace(tzinfo=zone).astimezone(UTC)
        if instant > after:
            yield instant


def _pinned(parts: dict[str, str], start: datetime) -> dict[str, str]:
    """``parts`` with the values dateutil would take from ``start`` written out.

    dateutil fills a missing BYHOUR/BYMINUTE/BYSECOND (and, when no day part is given, the
    BYDAY of a weekly rule, the BYMONTHDAY of a monthly one, BYMONTH and BYMONTHDAY of a
    yearly one) from DTSTART. Written out, the same rule can start later without changing.
    """
    pinned = dict(parts)
    frequency = parts["FREQ"]
    if frequency != "HOURLY":
        pinned.setdefault("BYHOUR", str(start.hour))
    pinned.setdefault("BYMINUTE", str(start.minute))
    pinned.setdefault("BYSECOND", str(start.second))
    if not any(name in parts for name in ("BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY")):
        if frequency == "YEARLY":
            pinned.setdefault("BYMONTH", str(start.month))
            pinned["BYMONTHDAY"] = str(start.day)
        elif frequency == "MONTHLY":
            pinned["BYMONTHDAY"] = str(start.day)
        elif frequency == "WEEKLY":
            pinned["BYDAY"] = _WEEKDAYS[start.weekday()]
    return pinned


def _fast_forward(parts: dict[str, str], start: datetime, after_local: datetime) -> datetime | None:
    """A later start, a whole number of intervals on, from which the rule is the same.

    ``None`` when the series is too young to be worth it. The new start lies at least a
    week before ``after`` (more than any daylight-saving shift), at the beginning of its
    period: the same time of day, the first of its month, or the first of January.
    """
    target = after_local - timedelta(days=8)
    if target <= start:
        return None
    interval = int(parts.get("INTERVAL", "1"))
    frequency = parts["FREQ"]
    if frequency in ("HOURLY", "DAILY", "WEEKLY"):
        unit = {"HOURLY": timedelta(hours=1), "DAILY": timedelta(days=1)}.get(
            frequency, timedelta(weeks=1)
        )
        steps = (target - start) // (unit * interval)
        return start + steps * interval * unit if steps else None
    if frequency == "MONTHLY":
        months = (target.year - start.year) * 12 + target.month - start.month
        steps = months // interval
        if not steps:
            return None
        month = start.month - 1 + steps * interval
        return start.replace(year=start.year + month // 12, month=month % 12 + 1, day=1)
    steps = (target.year - start.year) // interval
    if not steps:
        return None
    return start.replace(year=start.year + steps * interval, month=1, day=1)


_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}
_DAY_NAMES = dict(zip(_WEEKDAYS, calendar.day_name, strict=True))
_UNITS = {"YEARLY": "year", "MONTHLY": "month", "WEEKLY": "week", "DAILY": "day", "HOURLY": "hour"}


def _english_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _nth(number: int) -> str:
    if number == -1:
        return "the last day"
    if number < 0:
        return f"the {_nth(-number)[4:]} last day"
    suffix = (
        "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    )
    return f"the {number}{suffix}"


def _describe(parts: dict[str, str]) -> str:
    known = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "WKST"}
    if set(parts) - known:
        raise ValueError("not described")
    frequency, unit = parts["FREQ"], _UNITS[parts["FREQ"]]
    interval = int(parts.get("INTERVAL", "1"))
    text = f"every {unit}" if interval == 1 else f"every {interval} {unit}s"

    if "BYMONTH" in parts:
        months = _numbers(parts["BYMONTH"])
        days = _numbers(parts.get("BYMONTHDAY", "0"))
        if frequency != "YEARLY" or len(months) != 1 or len(days) != 1 or days[0] <= 0:
            raise ValueError("not described")
        if "BYDAY" in parts:
            raise ValueError("not described")
        text += f" on {days[0]} {calendar.month_name[months[0]]}"
    elif "BYMONTHDAY" in parts:
        if frequency != "MONTHLY" or "BYDAY" in parts:
            raise ValueError("not described")
        days = sorted(_numbers(parts["BYMONTHDAY"]), key=lambda day: (day < 0, abs(day)))
        words = [_nth(day) for day in days]
        if all(day > 0 for day in days):
            words = [words[0]] + [word[4:] for word in words[1:]]
        text += f" on {_english_list(words)}"
    elif "BYDAY" in parts:
        days = [_BYDAY.fullmatch(day).groups() for day in parts["BYDAY"].split(",")]
        if all(number is None for number, _ in days):
            if frequency != "WEEKLY":
                raise ValueError("not described")
            text += f" on {_english_list([_DAY_NAMES[name] for _, name in days])}"
        elif frequency == "MONTHLY" and len(days) == 1 and int(days[0][0]) in _ORDINALS:
            number, name = days[0]
            text += f" on the {_ORDINALS[int(number)]} {_DAY_NAMES[name]}"
        else:
            raise ValueError("not described")

    if "COUNT" in parts:
        count = int(parts["COUNT"])
        text += ", once" if count == 1 else f", {count} times"
    if "UNTIL" in parts:
        moment, form = _until_parts(parts["UNTIL"])
        text += f" until {moment.day} {moment:%b %Y}"
        if form != "date" and (moment.hour, moment.minute, moment.second) != (0, 0, 0):
            text += f" {moment:%H:%M}" + (" UTC" if form == "utc" else "")
    return text
