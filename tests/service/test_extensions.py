"""Times come back from the database in UTC, whatever the session's time zone, so a comment
reads the same in the submission's answer, its events and a later GET."""

from datetime import datetime, timedelta, timezone

from service.extensions import UtcDateTime, set_clock, utcnow


def test_a_time_read_with_another_offset_is_shown_in_utc():
    berlin = timezone(timedelta(hours=1))
    read = UtcDateTime().process_result_value(datetime(2026, 12, 7, 15, 30, tzinfo=berlin), None)
    assert read.isoformat() == "2026-12-07T14:30:00+00:00"


def test_a_naive_time_is_taken_as_utc():
    read = UtcDateTime().process_result_value(datetime(2026, 12, 7, 14, 30), None)
    assert read.isoformat() == "2026-12-07T14:30:00+00:00"


def test_the_clock_can_be_set_and_given_back():
    fixed = datetime(2030, 1, 1, tzinfo=timezone.utc)

    class Fixed:
        def now(self):
            return fixed

    set_clock(Fixed())
    try:
        assert utcnow() == fixed
    finally:
        set_clock(None)
    assert utcnow() > fixed - timedelta(days=10_000) and utcnow().year < 2030
