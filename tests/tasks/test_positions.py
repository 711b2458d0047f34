"""Manual order keys: order, bounded length and input errors (no database involved)."""

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.positions import (
    jittered_between,
    position_after,
    position_before,
    position_between,
    positions_for,
)

BASE62 = set(string.digits + string.ascii_uppercase + string.ascii_lowercase)


def assert_strictly_increasing(keys: list[str]) -> None:
    assert all(a < b for a, b in zip(keys, keys[1:], strict=False)), keys
    # Python's str order and byte order (PostgreSQL COLLATE "C") agree on these keys.
    assert sorted(keys) == sorted(keys, key=lambda key: key.encode("ascii"))
    assert all(set(key) <= BASE62 for key in keys)


def test_first_key_of_an_empty_group():
    assert position_between(None, None) == position_after(None) == position_before(None)


def test_between_sorts_between_its_neighbours():
    first = position_after(None)
    last = position_after(first)
    middle = position_between(first, last)
    assert first < middle < last


def test_before_and_after_extend_the_ends():
    key = position_after(None)
    assert position_before(key) < key < position_after(key)


def test_between_refuses_neighbours_out_of_order():
    first = position_after(None)
    second = position_after(first)
    with pytest.raises(ValueError, match="strictly before"):
        position_between(second, first)
    with pytest.raises(ValueError, match="strictly before"):
        position_between(first, first)
    with pytest.raises(ValueError, match="strictly before"):
        jittered_between(second, first)
    with pytest.raises(ValueError, match="strictly before"):
        positions_for(2, second, first)


@pytest.mark.parametrize("bad", ["", "a", "!!", "a00", "a0 ", "A00000000000000000000000000"])
def test_malformed_keys_are_a_value_error(bad):
    with pytest.raises(ValueError):
        position_after(bad)
    with pytest.raises(ValueError):
        position_before(bad)


def test_non_string_keys_are_a_value_error():
    with pytest.raises(ValueError, match="position string"):
        position_between(1, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [-1, 1.5, "3", True])
def test_positions_for_refuses_a_bad_count(count):
    with pytest.raises(ValueError, match="count"):
        positions_for(count)  # type: ignore[arg-type]


def test_positions_for_zero_is_empty():
    assert positions_for(0) == []


def test_positions_for_an_empty_group_are_short_and_increasing():
    keys = positions_for(1000)
    assert len(keys) == 1000
    assert_strictly_increasing(keys)
    assert max(map(len, keys)) <= 3


def test_positions_for_a_gap_stay_inside_it():
    before, after = positions_for(2)
    keys = positions_for(100, before, after)
    assert_strictly_increasing([before, *keys, after])


def test_positions_for_an_open_end_continue_the_group():
    existing = positions_for(3)
    assert_strictly_increasing([*existing, *positions_for(5, existing[-1])])
    assert_strictly_increasing([*positions_for(5, None, existing[0]), *existing])


def test_ten_thousand_appends_stay_short():
    key = None
    keys = []
    for _ in range(10_000):
        key = position_after(key)
        keys.append(key)
    assert_strictly_increasing(keys)
    assert max(map(len, keys)) < 10


def test_fifty_inserts_at_the_front_stay_short():
    key = position_after(None)
    keys = [key]
    for _ in range(50):
        key = position_before(key)
        keys.insert(0, key)
    assert_strictly_increasing(keys)
    assert max(map(len, keys)) < 60


@pytest.mark.parametrize("between", [position_between, jittered_between])
def test_fifty_inserts_into_the_same_gap_stay_short(between):
    low, high = positions_for(2)
    keys = [low, high]
    for _ in range(50):
        # Always just after ``low``: the worst case, each insert halves the same gap.
        high = between(low, high)
        keys.insert(1, high)
    assert_strictly_increasing(keys)
    assert max(map(len, keys)) < 60


def test_fifty_inserts_pushing_up_against_one_key_stay_short():
    low, high = positions_for(2)
    keys = [low, high]
    for _ in range(50):
        low = jittered_between(low, high)
        keys.insert(-1, low)
    assert_strictly_increasing(keys)
    assert max(map(len, keys)) < 60


def test_jittered_keys_are_distinct_in_the_same_gap():
    low, high = positions_for(2)
    keys = {jittered_between(low, high) for _ in range(1000)}
    assert len(keys) == 1000
    assert all(low < key < high for key in keys)


def test_jittered_key_below_a_neighbour_that_extends_it():
    # position_between(None, "a0V") is "a0", a prefix of "a0V": a tail must not lift the
    # key above its upper neighbour.
    assert position_between(None, "a0V") == "a0"
    for _ in range(200):
        key = jittered_between(None, "a0V")
        assert key < "a0V"
        key = jittered_between("Zz", "a0V")
        assert "Zz" < key < "a0V"


def test_jittered_keys_are_valid_neighbours_for_later_inserts():
    low = jittered_between(None, None)
    high = jittered_between(low, None)
    assert low < position_between(low, high) < high
    assert position_before(low) < low
    assert high < position_after(high)


# Each step: where to insert (an index into the current gaps, reduced modulo their number),
# and whether to jitter.
steps = st.lists(st.tuples(st.integers(min_value=0), st.booleans()), max_size=200)


@settings(max_examples=200, deadline=None)
@given(steps=steps)
def test_random_inserts_keep_a_strict_order(steps):
    keys: list[str] = []
    for where, jitter in steps:
        gap = where % (len(keys) + 1)
        before = keys[gap - 1] if gap > 0 else None
        after = keys[gap] if gap < len(keys) else None
        key = (jittered_between if jitter else position_between)(before, after)
        if before is not None:
            assert before < key
        if after is not None:
            assert key < after
        keys.insert(gap, key)
    assert_strictly_increasing(keys)


@settings(max_examples=100, deadline=None)
@given(
    steps=st.lists(st.integers(min_value=0), min_size=2, max_size=50),
    count=st.integers(min_value=0, max_value=30),
)
def test_bulk_keys_fit_any_gap(steps, count):
    keys: list[str] = []
    for where in steps:
        gap = where % (len(keys) + 1)
        before = keys[gap - 1] if gap > 0 else None
        after = keys[gap] if gap < len(keys) else None
        keys.insert(gap, jittered_between(before, after))
    gap = steps[0] % (len(keys) + 1)
    before = keys[gap - 1] if gap > 0 else None
    after = keys[gap] if gap < len(keys) else None
    new = positions_for(count, before, after)
    assert len(new) == count
    assert_strictly_increasing([k for k in (before, *new, after) if k is not None])
