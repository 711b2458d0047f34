"""Durations typed on the command line: `90m`, `12h`, `30d`, `2w`."""

import argparse
import re
from datetime import timedelta

UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DURATION_RE = re.compile(r"([0-9]{1,4})([mhdw])")


def duration(text: str) -> timedelta:
    """An argparse `type`: a bad value becomes a clear usage error (a CommandError in code)."""
    match = DURATION_RE.fullmatch(text.strip().lower())
    if not match or int(match[1]) == 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: use a positive whole number and a unit, "
            "m (minutes), h (hours), d (days) or w (weeks), like 30d or 12h."
        )
    return timedelta(**{UNITS[match[2]]: int(match[1])})
