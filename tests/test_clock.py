"""Times shown to people are Beijing time; the data keeps UTC."""
from datetime import date, datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker.clock import CST, as_cst, beijing, beijing_date, parse_rfc3339, rfc3339

LATE_UTC = datetime(2026, 12, 1, 23, 30, tzinfo=timezone.utc).timestamp()  # 07:30 the next day in Beijing


@pytest.mark.parametrize("value", [
    LATE_UTC,
    "2026-12-01T23:30:00Z",
    "2026-12-01T23:30:00+00:00",
    "2026-12-02T07:30:00+08:00",
    datetime(2026, 12, 1, 23, 30),  # naive, as SQLite gives stored datetimes back: UTC
    datetime(2026, 12, 1, 23, 30, tzinfo=timezone.utc),
])
def test_every_form_of_one_moment_is_shown_as_the_same_beijing_time(value):
    assert beijing(value) == "2026-12-02 07:30"
    assert beijing(value, seconds=True) == "2026-12-02 07:30:00"
    assert beijing_date(value) == "2026-12-02"


def test_no_time_shows_nothing_and_a_date_stays_a_date():
    assert beijing(None) == "" and beijing("") == "" and beijing_date(None) == ""
    assert beijing(date(2026, 12, 2)) == "2026-12-02"
    with pytest.raises(ValueError):
        beijing("yesterday")


@given(st.integers(min_value=0, max_value=4_102_444_800))
def test_rfc3339_round_trips_and_beijing_is_eight_hours_ahead(ts):
    assert parse_rfc3339(rfc3339(ts)) == ts
    assert as_cst(rfc3339(ts)) == datetime.fromtimestamp(ts, timezone.utc)
    assert as_cst(ts).utcoffset() == CST.utcoffset(None)
    assert beijing(rfc3339(ts)) == datetime.fromtimestamp(ts + 8 * 3600, timezone.utc).strftime("%Y-%m-%d %H:%M")
