"""RRULE validation and expansion in the task's zone (pure functions, no database)."""

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.recurrence import (
    MAX_RULE_LENGTH,
    RecurrenceError,
    describe_rule,
    next_occurrence,
    occurrences,
    validate_rule,
    validate_timezone,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone).astimezone(UTC)


# Validation


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("FREQ=WEEKLY;BYDAY=MO,WE", "FREQ=WEEKLY;BYDAY=MO,WE"),
        ("  freq=monthly;bymonthday=-1 ", "FREQ=MONTHLY;BYMONTHDAY=-1"),
        ("FREQ=DAILY;INTERVAL=2;COUNT=10;", "FREQ=DAILY;INTERVAL=2;COUNT=10"),
        ("FREQ=DAILY;UNTIL=20270101T000000Z", "FREQ=DAILY;UNTIL=20270101T000000Z"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "FREQ=MONTHLY;BYDAY=-1FR"),
        ("FREQ=HOURLY;INTERVAL=6", "FREQ=HOURLY;INTERVAL=6"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"),
        (
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        ),
        ("FREQ=DAILY;BYHOUR=9,17;BYSETPOS=2", "FREQ=DAILY;BYHOUR=9,17;BYSETPOS=2"),
    ],
)
def test_valid_rules_come_back_normalised(text, normalised):
    assert validate_rule(text) == normalised


def test_recurrence_error_is_a_value_error():
    assert issubclass(RecurrenceError, ValueError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The recurrence rule is empty"),
        ("   ", "The recurrence rule is empty"),
        ("FREQ=DAILY;" + "INTERVAL=1;" * 50, f"at most {MAX_RULE_LENGTH} are allowed"),
        ("RRULE:FREQ=DAILY", 'without its "RRULE:" prefix'),
        ("rrule:FREQ=DAILY", 'without its "RRULE:" prefix'),
        ("FREQ=DAILY;DTSTART=20260101T090000Z", "cannot contain DTSTART"),
        ("DTSTART:20260101T090000Z\nRRULE:FREQ=DAILY", "cannot contain DTSTART"),
        ("FREQ=SECONDLY", "FREQ=SECONDLY is not supported"),
        ("FREQ=MINUTELY;INTERVAL=30", "FREQ=MINUTELY is not supported"),
        ("freq=minutely", "FREQ=MINUTELY is not supported"),
        ("garbage", '"GARBAGE" is not of the form NAME=VALUE'),
        ("FREQ=DAILY EXDATE:20260102", "single RRULE value on one line"),
        ("FREQ=DAILY;COLOR=RED", "COLOR is not a part of a recurrence rule"),
        ("INTERVAL=2", "needs a FREQ part"),
        ("FREQ=FORTNIGHTLY", "FREQ must be YEARLY, MONTHLY, WEEKLY, DAILY or HOURLY"),
        ("FREQ=DAILY;FREQ=WEEKLY", "FREQ appears more than once"),
        ("FREQ=DAILY;COUNT=0", "COUNT must be a whole number of 1 or more"),
        ("FREQ=DAILY;INTERVAL=-1", "INTERVAL must be a whole number of 1 or more"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20270101", "COUNT or UNTIL, but not both"),
        ("FREQ=DAILY;UNTIL=tomorrow", "UNTIL must be a date such as 20270101"),
        ("FREQ=DAILY;UNTIL=20270231", "UNTIL must be a date such as 20270101"),
        ("FREQ=WEEKLY;BYDAY=XX", 'BYDAY must list weekdays such as MO,WE or 1MO,-1FR; "XX"'),
        ("FREQ=WEEKLY;BYDAY=1MO", "needs FREQ=MONTHLY or FREQ=YEARLY"),
        ("FREQ=DAILY;BYHOUR=24", "BYHOUR values must be 0 to 23; 24 is not"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY values must be 1 to 31 or -31 to -1"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,x", 'The list "1,X" is not a list of whole numbers'),
        ("FREQ=YEARLY;WKST=XY", "WKST must be one of MO"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "can never occur"),
        ("FREQ=DAILY;BYMONTH=4,6;BYMONTHDAY=31", "can never occur"),
        ("FREQ=YEARLY;BYMONTH=1;BYYEARDAY=366", "can never occur"),
        ("FREQ=DAILY;BYSETPOS=2", "BYSETPOS picks beyond"),
        ("FREQ=DAILY;BYHOUR=9,17;BYSETPOS=3,-3", "BYSETPOS picks beyond"),
        ("FREQ=HOURLY;BYMINUTE=0,30;BYSETPOS=-3", "BYSETPOS picks beyond"),
        ("FREQ=WEEKLY;BYSETPOS=8", "BYSETPOS picks beyond"),
    ],
)
def test_invalid_rules_say_what_is_wrong(text, message):
    with pytest.raises(RecurrenceError) as caught:
        validate_rule(text)
    assert message in str(caught.value)
    # Full sentences, for the API's 400.
    assert str(caught.value)[0].isupper()
    assert str(caught.value).endswith(".")


def test_a_rule_of_exactly_the_maximum_length_is_accepted():
    rule = "FREQ=DAILY;BYHOUR=" + ",".join(["9"] * 300)
    rule = rule[:MAX_RULE_LENGTH].rstrip(",")
    assert len(rule) <= MAX_RULE_LENGTH
    assert validate_rule(rule) == rule


def test_a_non_string_rule_is_refused():
    with pytest.raises(RecurrenceError, match="must be text"):
        validate_rule(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
def test_known_time_zones_are_accepted(name):
    assert validate_timezone(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Olympus_Mons",
        "europe/berlin",
        "../../etc/passwd",
        "/etc/localtime",
        "Europe/",
        "Europe/../Europe/Berlin",
        "Europe\0Berlin",
        "zone.tab",
        "x" * 1000,
    ],
)
def test_unknown_time_zones_are_refused(name):
    with pytest.raises(RecurrenceError, match="Unknown time zone"):
        validate_timezone(name)


@pytest.mark.parametrize("name", ["", "   ", None])
def test_an_empty_time_zone_is_refused(name):
    with pytest.raises(RecurrenceError, match="The time zone is empty"):
        validate_timezone(name)  # type: ignore[arg-type]


def test_expansion_refuses_an_invalid_rule_or_zone():
    start = utc(2026, 1, 1, 9)
    with pytest.raises(RecurrenceError, match="not supported"):
        next_occurrence("FREQ=MINUTELY", "UTC", start, start)
    with pytest.raises(RecurrenceError, match="Unknown time zone"):
        next_occurrence("FREQ=DAILY", "Nowhere/City", start, start)


def test_an_empty_preview_still_refuses_an_invalid_rule():
    start = utc(2026, 1, 1, 9)
    with pytest.raises(RecurrenceError, match="not supported"):
        occurrences("FREQ=SECONDLY", "UTC", start, start, 0)


def test_expansion_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="series_start must be an aware datetime"):
        next_occurrence("FREQ=DAILY", "UTC", datetime(2026, 1, 1, 9), utc(2026, 1, 1))
    with pytest.raises(ValueError, match="after must be an aware datetime"):
        next_occurrence("FREQ=DAILY", "UTC", utc(2026, 1, 1, 9), datetime(2026, 1, 1))


# Expansion


def test_weekly_on_monday_and_wednesday():
    start = utc(2026, 11, 30, 9)  # a Monday
    assert occurrences("FREQ=WEEKLY;BYDAY=MO,WE", "UTC", start, start, 4) == [
        utc(2026, 12, 2, 9),
        utc(2026, 12, 7, 9),
        utc(2026, 12, 9, 9),
        utc(2026, 12, 14, 9),
    ]


def test_next_occurrence_is_strictly_after():
    start = utc(2026, 11, 30, 9)
    assert next_occurrence("FREQ=DAILY", "UTC", start, utc(2026, 12, 1, 9)) == utc(2026, 12, 2, 9)
    assert next_occurrence("FREQ=DAILY", "UTC", start, utc(2026, 12, 1, 8, 59)) == utc(
        2026, 12, 1, 9
    )


def test_results_are_aware_utc():
    result = next_occurrence("FREQ=DAILY", "Europe/Berlin", utc(2026, 1, 1, 8), utc(2026, 1, 1, 8))
    assert result.tzinfo is UTC


def test_monthly_on_the_last_day_through_february_and_a_leap_year():
    start = utc(2027, 10, 31, 9)
    expected = [(2027, 11, 30), (2027, 12, 31), (2028, 1, 31), (2028, 2, 29), (2028, 3, 31)]
    assert occurrences("FREQ=MONTHLY;BYMONTHDAY=-1", "UTC", start, start, 5) == [
        utc(*day, 9) for day in expected
    ]
    february = next_occurrence("FREQ=MONTHLY;BYMONTHDAY=-1", "UTC", start, utc(2029, 2, 1))
    assert february == utc(2029, 2, 28, 9)


def test_monthly_on_a_day_that_some_months_lack_skips_them():
    start = utc(2026, 1, 31, 9)
    days = occurrences("FREQ=MONTHLY", "UTC", start, start, 3)
    assert days == [utc(2026, 3, 31, 9), utc(2026, 5, 31, 9), utc(2026, 7, 31, 9)]


def test_every_second_day():
    start = utc(2026, 12, 1, 9)
    assert occurrences("FREQ=DAILY;INTERVAL=2", "UTC", start, start, 3) == [
        utc(2026, 12, 3, 9),
        utc(2026, 12, 5, 9),
        utc(2026, 12, 7, 9),
    ]


def test_interval_keeps_its_phase_when_completed_late():
    start = utc(2026, 12, 1, 9)
    # Completed on the 4th, a day the rule skips: the next is the 5th, not the 6th.
    assert next_occurrence("FREQ=DAILY;INTERVAL=2", "UTC", start, utc(2026, 12, 4, 12)) == utc(
        2026, 12, 5, 9
    )


def test_count_exhausted_gives_none():
    start = utc(2026, 12, 1, 9)
    rule = "FREQ=DAILY;COUNT=3"
    assert occurrences(rule, "UTC", start, start, 10) == [utc(2026, 12, 2, 9), utc(2026, 12, 3, 9)]
    assert next_occurrence(rule, "UTC", start, utc(2026, 12, 2, 9)) == utc(2026, 12, 3, 9)
    assert next_occurrence(rule, "UTC", start, utc(2026, 12, 3, 9)) is None


def test_count_includes_a_start_that_the_rule_does_not_produce():
    start = utc(2026, 12, 1, 9)  # a Tuesday
    rule = "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=3"
    # RFC 5545: the start is the first of the three; dateutil alone would give three more.
    assert occurrences(rule, "UTC", start, start - timedelta(days=1), 5) == [
        start,
        utc(2026, 12, 2, 9),
        utc(2026, 12, 7, 9),
    ]


def test_a_start_that_the_rule_does_not_produce_is_still_the_first_occurrence():
    start = utc(2026, 12, 1, 9)  # a Tuesday
    assert occurrences("FREQ=WEEKLY;BYDAY=MO", "UTC", start, start - timedelta(hours=1), 2) == [
        start,
        utc(2026, 12, 7, 9),
    ]


def test_until_in_utc_is_inclusive_and_then_none():
    start = utc(2026, 12, 29, 9)
    rule = "FREQ=DAILY;UNTIL=20261231T090000Z"
    assert occurrences(rule, "Europe/Berlin", start, start, 5) == [
        utc(2026, 12, 30, 9),
        utc(2026, 12, 31, 9),
    ]
    assert next_occurrence(rule, "Europe/Berlin", start, utc(2026, 12, 31, 9)) is None


def test_until_in_utc_works_with_a_zone_far_from_utc():
    start = local(NEW_YORK, 2026, 12, 29, 20)  # 01:00 UTC the next day
    rule = "FREQ=DAILY;UNTIL=20270101T000000Z"
    # 20:00 New York on 31 Dec is 01:00 UTC on 1 Jan: past UNTIL.
    assert occurrences(rule, "America/New_York", start, start, 5) == [
        local(NEW_YORK, 2026, 12, 30, 20)
    ]


def test_until_as_a_date_includes_that_local_day():
    start = local(BERLIN, 2026, 12, 29, 21)
    rule = "FREQ=DAILY;UNTIL=20261231"
    assert occurrences(rule, "Europe/Berlin", start, start, 5) == [
        local(BERLIN, 2026, 12, 30, 21),
        local(BERLIN, 2026, 12, 31, 21),
    ]


def test_until_floating_is_a_wall_time_in_the_zone():
    start = local(BERLIN, 2026, 12, 29, 9)
    rule = "FREQ=DAILY;UNTIL=20261231T090000"
    assert occurrences(rule, "Europe/Berlin", start, start, 5)[-1] == local(BERLIN, 2026, 12, 31, 9)
    assert next_occurrence(rule, "Europe/Berlin", start, local(BERLIN, 2026, 12, 31, 9)) is None


def test_completing_late_gives_the_first_occurrence_after_now():
    start = utc(2026, 1, 5, 9)
    now = utc(2026, 11, 20, 15, 30)
    assert next_occurrence("FREQ=DAILY", "UTC", start, now) == utc(2026, 11, 21, 9)
    assert next_occurrence("FREQ=WEEKLY;BYDAY=MO,WE", "UTC", start, now) == utc(2026, 11, 23, 9)


def test_berlin_nine_o_clock_stays_nine_across_both_2026_changes():
    start = local(BERLIN, 2026, 3, 27, 9)  # CET, 08:00 UTC
    spring = occurrences("FREQ=DAILY", "Europe/Berlin", start, start - timedelta(seconds=1), 4)
    # Clocks go forward on Sunday 29 March.
    assert [moment.hour for moment in spring] == [8, 8, 7, 7]
    autumn_start = local(BERLIN, 2026, 10, 23, 9)  # CEST, 07:00 UTC
    autumn = occurrences("FREQ=DAILY", "Europe/Berlin", autumn_start, autumn_start, 4)
    # Clocks go back on Sunday 25 October.
    assert [moment.hour for moment in autumn] == [7, 8, 8, 8]
    assert {moment.astimezone(BERLIN).hour for moment in spring + autumn} == {9}


def test_new_york_nine_o_clock_stays_nine_across_both_2026_changes():
    start = local(NEW_YORK, 2026, 3, 6, 9)  # EST, 14:00 UTC
    spring = occurrences("FREQ=WEEKLY", "America/New_York", start, start, 2)
    # Clocks go forward on Sunday 8 March.
    assert spring == [utc(2026, 3, 13, 13), utc(2026, 3, 20, 13)]
    autumn_start = local(NEW_YORK, 2026, 10, 30, 9)  # EDT, 13:00 UTC
    autumn = occurrences("FREQ=WEEKLY", "America/New_York", autumn_start, autumn_start, 1)
    # Clocks go back on Sunday 1 November.
    assert autumn == [utc(2026, 11, 6, 14)]


def test_the_same_rule_in_utc_drifts_in_local_time():
    start = utc(2026, 3, 27, 8)
    days = occurrences("FREQ=DAILY", "UTC", start, start, 3)
    assert [moment.hour for moment in days] == [8, 8, 8]


def test_a_wall_time_the_zone_skips_still_gives_an_occurrence():
    # Berlin jumps from 02:00 to 03:00 on 29 March 2026: 02:30 does not exist that night.
    start = local(BERLIN, 2026, 3, 27, 2, 30)
    days = occurrences("FREQ=DAILY", "Europe/Berlin", start, start, 3)
    # fold=0 reads 02:30 with the winter offset: 01:30 UTC, which Berlin shows as 03:30.
    assert days == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]
    assert days[1].astimezone(BERLIN).strftime("%H:%M") == "03:30"
    assert days[2].astimezone(BERLIN).strftime("%H:%M") == "02:30"


def test_a_wall_time_the_zone_repeats_is_its_first_instant():
    # Berlin shows 02:30 twice on 25 October 2026: first at 00:30 UTC, then at 01:30 UTC.
    start = local(BERLIN, 2026, 10, 24, 2, 30)
    days = occurrences("FREQ=DAILY", "Europe/Berlin", start, start, 2)
    assert days == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_daily_series_started_ten_years_ago_is_fast():
    start = local(BERLIN, 2016, 12, 1, 9)
    now = utc(2026, 12, 1, 21, 45)
    began = time.perf_counter()
    for _ in range(20):
        result = next_occurrence("FREQ=DAILY", "Europe/Berlin", start, now)
    elapsed = (time.perf_counter() - began) / 20
    assert result == local(BERLIN, 2026, 12, 2, 9)
    assert elapsed < 0.01


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("FREQ=HOURLY;INTERVAL=5", utc(2026, 12, 2, 2)),
        ("FREQ=WEEKLY;INTERVAL=3;BYDAY=TU,FR", utc(2026, 12, 4, 9)),
        ("FREQ=MONTHLY;INTERVAL=5", utc(2027, 5, 1, 9)),
        ("FREQ=MONTHLY;BYDAY=1MO", utc(2026, 12, 7, 9)),
        ("FREQ=YEARLY;INTERVAL=4", utc(2028, 12, 1, 9)),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", utc(2028, 2, 29, 9)),
    ],
)
def test_old_series_keep_their_phase(rule, expected):
    # Expected values: dateutil walking the whole series from its start.
    start = utc(2016, 12, 1, 9)  # a Thursday
    now = utc(2026, 12, 1, 21, 30)
    began = time.perf_counter()
    assert next_occurrence(rule, "UTC", start, now) == expected
    assert time.perf_counter() - began < 0.05


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=HOURLY;INTERVAL=5",
        "FREQ=DAILY;INTERVAL=3;BYHOUR=8,20",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,SA",
        "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=-1,10",
        "FREQ=MONTHLY;BYDAY=-1FR",
        "FREQ=YEARLY;INTERVAL=3",
        "FREQ=YEARLY;BYMONTH=3,9;BYDAY=2SU",
    ],
)
def test_skipping_ahead_matches_the_full_walk(rule):
    start = local(BERLIN, 2019, 5, 31, 7, 15)
    after = utc(2025, 3, 30, 1)
    with_count = f"{rule};COUNT=100000"  # COUNT disables the skip: the full walk
    assert occurrences(rule, "Europe/Berlin", start, after, 5) == occurrences(
        with_count, "Europe/Berlin", start, after, 5
    )


def test_an_hourly_interval_that_misses_its_hours_from_the_start_is_just_the_start():
    rule = "FREQ=HOURLY;INTERVAL=2;BYHOUR=9"
    assert validate_rule(rule) == rule
    # From 09:00 every second hour reaches 09:00 again; from 10:00 it never does.
    assert next_occurrence(rule, "UTC", utc(2026, 12, 1, 9), utc(2026, 12, 1, 9)) == utc(
        2026, 12, 2, 9
    )
    start = utc(2026, 12, 1, 10)
    assert occurrences(rule, "UTC", start, start - timedelta(hours=1), 3) == [start]
    assert next_occurrence(rule, "UTC", start, start) is None
    assert next_occurrence(rule, "UTC", start, start + timedelta(days=400)) is None


def test_occurrences_preview_counts():
    start = utc(2026, 12, 1, 9)
    assert len(occurrences("FREQ=DAILY", "UTC", start, start, 5)) == 5
    assert len(occurrences("FREQ=DAILY", "UTC", start, start, 50)) == 50
    assert occurrences("FREQ=DAILY", "UTC", start, start, 0) == []
    assert len(occurrences("FREQ=DAILY;COUNT=4", "UTC", start, start, 50)) == 3
    first = next_occurrence("FREQ=DAILY", "UTC", start, start)
    assert occurrences("FREQ=DAILY", "UTC", start, start, 1) == [first]


@pytest.mark.parametrize("count", [-1, 1.5, True])
def test_occurrences_refuses_a_bad_count(count):
    start = utc(2026, 12, 1, 9)
    with pytest.raises(ValueError, match="count"):
        occurrences("FREQ=DAILY", "UTC", start, start, count)  # type: ignore[arg-type]


def test_occurrences_are_whole_seconds():
    start = utc(2026, 12, 1, 9, 0, 0, 123456)
    assert next_occurrence("FREQ=DAILY", "UTC", start, start) == utc(2026, 12, 2, 9)


# Descriptions


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("FREQ=DAILY", "every day"),
        ("FREQ=DAILY;INTERVAL=2", "every 2 days"),
        ("FREQ=WEEKLY;BYDAY=MO,WE", "every week on Monday and Wednesday"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,FR", "every 2 weeks on Monday, Wednesday and Friday"),
        ("FREQ=MONTHLY;BYMONTHDAY=-1", "every month on the last day"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,15", "every month on the 1st and 15th"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "every month on the last Friday"),
        ("FREQ=MONTHLY;BYDAY=2TU", "every month on the second Tuesday"),
        ("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=1", "every year on 1 March"),
        ("FREQ=DAILY;INTERVAL=2;COUNT=10", "every 2 days, 10 times"),
        ("FREQ=WEEKLY;COUNT=1", "every week, once"),
        ("FREQ=DAILY;UNTIL=20270101T000000Z", "every day until 1 Jan 2027"),
        ("FREQ=DAILY;UNTIL=20270101", "every day until 1 Jan 2027"),
        (
            "FREQ=HOURLY;INTERVAL=6;UNTIL=20270101T123000Z",
            "every 6 hours until 1 Jan 2027 12:30 UTC",
        ),
        ("freq=weekly;byday=sa", "every week on Saturday"),
    ],
)
def test_describe_common_rules(rule, text):
    assert describe_rule(rule) == text


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;BYHOUR=9,17",
        "FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=-1",
        "FREQ=YEARLY;BYWEEKNO=20",
        "FREQ=MINUTELY",
        "not a rule",
    ],
)
def test_describe_falls_back_to_the_rule(rule):
    assert describe_rule(rule) == rule


rule_shapes = st.sampled_from(
    [
        "FREQ=HOURLY",
        "FREQ=HOURLY;BYHOUR=8,13",
        "FREQ=DAILY",
        "FREQ=DAILY;BYDAY=MO,FR",
        "FREQ=WEEKLY",
        "FREQ=WEEKLY;WKST=SU;BYDAY=SU,MO",
        "FREQ=MONTHLY",
        "FREQ=MONTHLY;BYMONTHDAY=-1",
        "FREQ=MONTHLY;BYDAY=2WE",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        "FREQ=YEARLY",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    shape=rule_shapes,
    interval=st.integers(min_value=1, max_value=7),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]),
    start=st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2020, 1, 1)),
    gap=st.timedeltas(min_value=timedelta(days=9), max_value=timedelta(days=800)),
)
def test_skipping_ahead_matches_the_full_walk_for_random_series(shape, interval, zone, start, gap):
    rule = f"{shape};INTERVAL={interval}"
    series_start = start.replace(tzinfo=UTC)
    after = series_start + gap
    walked = occurrences(f"{rule};COUNT=1000000", zone, series_start, after, 3)
    assert occurrences(rule, zone, series_start, after, 3) == walked
