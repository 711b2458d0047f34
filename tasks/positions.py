"""Manual order positions: opaque keys that sort in the order the user arranged.

Every task (and list) in a sibling group carries a ``position`` string. Sorting a group by
``position`` in plain byte order gives the manual order, so a move computes one new key
strictly between the new neighbours and writes that one row: nothing is ever renumbered.

The keys come from the ``fractional-indexing`` package (the Python port of the algorithm
behind Figma's and Replicache's ordering keys). A key is a variable-length "integer" part
followed by an optional fraction, written in the base-62 digits ``0-9A-Za-z``. Those digits
are in ASCII order, so Python's ``str`` comparison, PostgreSQL ``COLLATE "C"`` and any other
byte-wise comparison agree; a column holding these keys must use such a collation (a
language collation such as ``en_US`` would sort ``a`` next to ``A``). Appending or
prepending steps the integer part, which keeps keys short for long lists (10,000 appends
stay at 4 characters); repeated inserts into one gap grow the fraction by about one
character per six inserts.

Every function raises ``ValueError`` for a malformed key or for neighbours that are not in
increasing order; that is a bug in the caller (or a corrupt row), never user input.
"""

import re
import secrets

from fractional_indexing import (
    BASE_62_DIGITS,
    FIError,
    generate_key_between,
    generate_n_keys_between,
)

# Five random digits plus one non-zero digit (a key may not end in "0"): about 5.6e10
# suffixes, so two writers landing in the same gap pick the same one with odds of ~2e-11.
_JITTER_DIGITS = 6

# The library checks a key's structure but not its characters (it accepts "a0 " and fails
# with an IndexError on ""), so the alphabet is checked here first.
_KEY = re.compile(r"[0-9A-Za-z]+")

__all__ = [
    "jittered_between",
    "position_after",
    "position_before",
    "position_between",
    "positions_for",
]


def _check(key: str | None, name: str) -> None:
    if key is not None and not isinstance(key, str):
        raise ValueError(f"{name} must be a position string or None, not {type(key).__name__}.")
    if key is not None and not _KEY.fullmatch(key):
        raise ValueError(f"{name} ({key!r}) is not a position: only 0-9, A-Z and a-z are used.")


def _check_order(before: str | None, after: str | None) -> None:
    _check(before, "before")
    _check(after, "after")
    if before is not None and after is not None and before >= after:
        raise ValueError(f"before ({before!r}) must sort strictly before after ({after!r}).")


def position_between(before: str | None, after: str | None) -> str:
    """Return a key strictly between ``before`` and ``after``.

    ``None`` stands for an open end: ``(None, None)`` is the first key of an empty group,
    ``(last, None)`` appends and ``(None, first)`` prepends. The result is deterministic, so
    two writers inserting into the same gap at the same moment get the same key; use
    :func:`jittered_between` where that can happen.

    Raises ``ValueError`` if ``before >= after`` or if either is not a valid key.
    """
    _check_order(before, after)
    try:
        return generate_key_between(before, after)
    except (FIError, IndexError) as error:
        raise ValueError(f"Cannot place a key between {before!r} and {after!r}: {error}.") from None


def position_after(last: str | None) -> str:
    """Return a key after ``last`` (the end of a group); ``None`` means the group is empty."""
    return position_between(last, None)


def position_before(first: str | None) -> str:
    """Return a key before ``first`` (the start of a group); ``None`` means it is empty."""
    return position_between(None, first)


def positions_for(count: int, before: str | None = None, after: str | None = None) -> list[str]:
    """Return ``count`` strictly increasing keys, all strictly between ``before`` and ``after``.

    For giving existing rows their first positions (in a migration) and for creating many
    rows at once: with an open end the keys are consecutive short integers (``a0``, ``a1``,
    ...), between two keys they are spread evenly over the gap, so later inserts stay short.
    ``count`` 0 gives ``[]``. Raises ``ValueError`` for a negative count, neighbours out of
    order or invalid keys.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a whole number >= 0, not {count!r}.")
    _check_order(before, after)
    try:
        return generate_n_keys_between(before, after, count)
    except (FIError, IndexError) as error:
        raise ValueError(f"Cannot place keys between {before!r} and {after!r}: {error}.") from None


def jittered_between(before: str | None, after: str | None) -> str:
    """Return a key strictly between ``before`` and ``after``, with a random tail.

    For moves and inserts that can race: two requests that read the same neighbours at the
    same moment would get the same key from :func:`position_between`. Here each appends six
    random base-62 digits to that key, so they get distinct keys with overwhelming
    likelihood (collision odds about 2e-11), at the price of keys about six characters
    longer. Jitter alone is not the guarantee: the caller also keeps a database unique
    constraint on (sibling group, position) and, on the rare violation, retries the write
    with freshly read neighbours. Both keys still sort between the neighbours the writers
    saw, so neither move is lost and the group's order stays total.

    Raises ``ValueError`` like :func:`position_between`.
    """
    key = position_between(before, after)
    # A key that is a prefix of ``after`` (e.g. "a0" below "a0V") has no room for a tail:
    # "a0" + tail may sort above "a0V". Narrowing towards ``after`` ends once the key
    # differs from ``after`` at one of its own characters, within len(after) steps.
    while after is not None and after.startswith(key):
        key = position_between(key, after)
    tail = [secrets.choice(BASE_62_DIGITS) for _ in range(_JITTER_DIGITS - 1)]
    tail.append(secrets.choice(BASE_62_DIGITS[1:]))
    return key + "".join(tail)
