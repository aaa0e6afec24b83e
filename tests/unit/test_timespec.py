"""Durations and weekly freeze windows, including DST changes in Europe/Berlin.

Berlin in 2024: clocks went forward on Sun 31 March at 01:00 UTC (02:00 CET -> 03:00 CEST) and
back on Sun 27 October at 01:00 UTC (03:00 CEST -> 02:00 CET).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from signoff.domain.timespec import (
    FreezeWindow,
    format_duration,
    frozen_by,
    parse_duration,
    parse_freeze_window,
)
from signoff.errors import InvalidInput

BERLIN = ZoneInfo("Europe/Berlin")
WEEKEND_FREEZE = "Fri 16:00-Mon 08:00 Europe/Berlin"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


class TestParsingDurations:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("90s", timedelta(seconds=90)),
            ("15m", timedelta(minutes=15)),
            ("24h", timedelta(hours=24)),
            ("7d", timedelta(days=7)),
            ("2w", timedelta(weeks=2)),
            ("1h30m", timedelta(hours=1, minutes=30)),
            ("1d 2h", timedelta(days=1, hours=2)),
            ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
            ("3600", timedelta(hours=1)),
            (" 15m ", timedelta(minutes=15)),
        ],
    )
    def test_accepts_units_and_plain_seconds(self, text: str, expected: timedelta) -> None:
        assert parse_duration(text) == expected

    def test_zero_is_allowed(self) -> None:
        assert parse_duration("0") == timedelta(0)
        assert parse_duration("0s") == timedelta(0)

    def test_refuses_negative_durations_and_says_so(self) -> None:
        with pytest.raises(InvalidInput) as caught:
            parse_duration("-1h")
        assert caught.value.message == "invalid duration '-1h': a duration cannot be negative"
        assert caught.value.details == {"duration": "-1h"}

    @pytest.mark.parametrize(
        "text", ["", "   ", "abc", "1.5h", "30m1h", "1h1h", "h", "1H", "1 h", "15 minutes", "1e3"]
    )
    def test_refuses_anything_else_naming_the_text(self, text: str) -> None:
        with pytest.raises(InvalidInput) as caught:
            parse_duration(text)
        assert caught.value.message == (
            f"invalid duration {text!r}: expected whole seconds or units like "
            "'90s', '15m', '24h', '7d', '2w', '1h30m'"
        )

    def test_refuses_durations_beyond_what_a_timedelta_holds(self) -> None:
        with pytest.raises(InvalidInput, match="too long"):
            parse_duration("999999999w")

    def test_refuses_something_that_is_not_text(self) -> None:
        with pytest.raises(InvalidInput, match="invalid duration 3600"):
            parse_duration(3600)  # type: ignore[arg-type]


class TestFormattingDurations:
    @pytest.mark.parametrize(
        ("value", "text"),
        [
            (timedelta(days=1, hours=2), "1d 2h"),
            (timedelta(minutes=15), "15m"),
            (timedelta(0), "0s"),
            (timedelta(seconds=90), "1m 30s"),
            (timedelta(weeks=2), "14d"),
            (timedelta(days=1, seconds=1), "1d 1s"),
            (timedelta(seconds=59, microseconds=999_999), "59s"),
            (timedelta(hours=-1, minutes=-30), "-1h 30m"),
        ],
    )
    def test_prints_the_largest_units_first(self, value: timedelta, text: str) -> None:
        assert format_duration(value) == text

    @pytest.mark.parametrize("text", ["90s", "1d 2h", "7d", "1h30m", "0", "123456"])
    def test_what_it_prints_parses_back_to_the_same_value(self, text: str) -> None:
        value = parse_duration(text)
        assert parse_duration(format_duration(value)) == value


class TestParsingFreezeWindows:
    def test_reads_days_times_and_zone(self) -> None:
        window = parse_freeze_window(WEEKEND_FREEZE)
        assert window == FreezeWindow(WEEKEND_FREEZE, 4, time(16, 0), 0, time(8, 0), BERLIN)
        assert str(window) == WEEKEND_FREEZE

    def test_the_zone_defaults_to_utc(self) -> None:
        assert parse_freeze_window("Mon 09:00-Mon 10:00").tz == ZoneInfo("UTC")

    def test_full_day_names_any_case_and_loose_spacing(self) -> None:
        window = parse_freeze_window("  saturday 0:00 - SUNDAY 23:59  UTC ")
        assert (window.start_day, window.start_time) == (5, time(0, 0))
        assert (window.end_day, window.end_time) == (6, time(23, 59))

    def test_refuses_an_unknown_weekday(self) -> None:
        with pytest.raises(InvalidInput) as caught:
            parse_freeze_window("Fry 16:00-Mon 08:00")
        assert caught.value.message == (
            "invalid freeze window 'Fry 16:00-Mon 08:00': unknown weekday 'Fry'"
        )
        assert caught.value.details == {"window": "Fry 16:00-Mon 08:00"}

    @pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe", "../../etc/passwd", "utc"])
    def test_refuses_an_unknown_time_zone(self, zone: str) -> None:
        text = f"Fri 16:00-Mon 08:00 {zone}"
        with pytest.raises(InvalidInput) as caught:
            parse_freeze_window(text)
        assert caught.value.message == f"invalid freeze window {text!r}: unknown time zone {zone!r}"

    @pytest.mark.parametrize("clock", ["24:00", "16:60", "99:99"])
    def test_refuses_a_time_that_does_not_exist(self, clock: str) -> None:
        with pytest.raises(InvalidInput, match=f"invalid time '{clock}'"):
            parse_freeze_window(f"Fri {clock}-Mon 08:00")

    @pytest.mark.parametrize(
        "text",
        ["", "Fri-Mon", "Fri 16:00", "Fri 16:00 to Mon 08:00", "Fri 4pm-Mon 8am", "Fri 16-Mon 8"],
    )
    def test_refuses_text_of_the_wrong_shape(self, text: str) -> None:
        with pytest.raises(InvalidInput) as caught:
            parse_freeze_window(text)
        assert caught.value.message == (
            f"invalid freeze window {text!r}: expected e.g. "
            "'Fri 16:00-Mon 08:00 Europe/Berlin' (time zone defaults to UTC)"
        )

    def test_refuses_a_window_that_starts_when_it_ends(self) -> None:
        with pytest.raises(InvalidInput, match="the window is empty"):
            parse_freeze_window("Mon 09:00-Mon 09:00")


class TestWhetherAWindowIsInEffect:
    def test_start_is_inclusive_and_end_exclusive(self) -> None:
        window = parse_freeze_window("Mon 09:00-Mon 10:00")
        monday = utc(2024, 1, 15, 9, 0)
        assert window.contains(monday - timedelta(microseconds=1)) is False
        assert window.contains(monday) is True
        assert window.contains(monday + timedelta(minutes=59, seconds=59)) is True
        assert window.contains(monday + timedelta(hours=1)) is False
        assert window.contains(monday + timedelta(days=7, minutes=30)) is True  # every week

    def test_a_window_that_wraps_the_weekend(self) -> None:
        window = parse_freeze_window("Fri 16:00-Mon 08:00 UTC")
        assert window.contains(utc(2024, 1, 12, 15, 59)) is False  # Friday
        assert window.contains(utc(2024, 1, 12, 16, 0)) is True
        assert window.contains(utc(2024, 1, 13, 12, 0)) is True  # Saturday
        assert window.contains(utc(2024, 1, 14, 23, 59)) is True  # Sunday
        assert window.contains(utc(2024, 1, 15, 0, 0)) is True  # Monday, a new week
        assert window.contains(utc(2024, 1, 15, 7, 59)) is True
        assert window.contains(utc(2024, 1, 15, 8, 0)) is False
        assert window.contains(utc(2024, 1, 17, 12, 0)) is False  # Wednesday

    def test_a_window_that_wraps_only_across_sunday_midnight(self) -> None:
        window = parse_freeze_window("Sun 22:00-Mon 02:00")
        assert window.contains(utc(2024, 1, 14, 21, 59)) is False
        assert window.contains(utc(2024, 1, 14, 23, 0)) is True
        assert window.contains(utc(2024, 1, 15, 1, 59)) is True
        assert window.contains(utc(2024, 1, 15, 2, 0)) is False

    def test_the_whole_weekend(self) -> None:
        window = parse_freeze_window("Sat 00:00-Sun 23:59 UTC")
        assert window.contains(utc(2024, 1, 12, 23, 59)) is False
        assert window.contains(utc(2024, 1, 13, 0, 0)) is True
        assert window.contains(utc(2024, 1, 14, 23, 58)) is True
        assert window.contains(utc(2024, 1, 14, 23, 59)) is False

    def test_follows_berlin_wall_clock_in_winter_and_summer(self) -> None:
        window = parse_freeze_window(WEEKEND_FREEZE)
        # Friday 16:00 in Berlin is 15:00 UTC in January (CET) and 14:00 UTC in July (CEST).
        assert window.contains(utc(2024, 1, 12, 14, 59)) is False
        assert window.contains(utc(2024, 1, 12, 15, 0)) is True
        assert window.contains(utc(2024, 7, 12, 13, 59)) is False
        assert window.contains(utc(2024, 7, 12, 14, 0)) is True

    def test_spans_the_spring_dst_change(self) -> None:
        window = parse_freeze_window(WEEKEND_FREEZE)
        assert window.contains(utc(2024, 3, 29, 15, 0)) is True  # Fri 16:00 CET
        assert window.contains(utc(2024, 3, 31, 1, 30)) is True  # Sun 03:30 CEST
        assert window.contains(utc(2024, 4, 1, 5, 59)) is True  # Mon 07:59 CEST
        assert window.contains(utc(2024, 4, 1, 6, 0)) is False  # Mon 08:00 CEST

    def test_spans_the_autumn_dst_change(self) -> None:
        window = parse_freeze_window(WEEKEND_FREEZE)
        assert window.contains(utc(2024, 10, 25, 13, 59)) is False  # Fri 15:59 CEST
        assert window.contains(utc(2024, 10, 25, 14, 0)) is True  # Fri 16:00 CEST
        assert window.contains(utc(2024, 10, 28, 6, 59)) is True  # Mon 07:59 CET
        assert window.contains(utc(2024, 10, 28, 7, 0)) is False  # Mon 08:00 CET

    def test_a_start_inside_the_spring_gap_takes_effect_at_the_jump(self) -> None:
        window = parse_freeze_window("Sun 02:30-Sun 05:00 Europe/Berlin")
        assert window.contains(utc(2024, 3, 31, 0, 59, 59)) is False  # 01:59:59 CET
        assert window.contains(utc(2024, 3, 31, 1, 0)) is True  # 03:00 CEST

    def test_the_repeated_autumn_hour_is_frozen_both_times(self) -> None:
        window = parse_freeze_window("Sun 02:00-Sun 02:30 Europe/Berlin")
        assert window.contains(utc(2024, 10, 27, 0, 15)) is True  # 02:15 CEST
        assert window.contains(utc(2024, 10, 27, 0, 45)) is False  # 02:45 CEST
        assert window.contains(utc(2024, 10, 27, 1, 15)) is True  # 02:15 CET
        assert window.contains(utc(2024, 10, 27, 1, 45)) is False  # 02:45 CET

    def test_accepts_instants_in_any_zone(self) -> None:
        window = parse_freeze_window(WEEKEND_FREEZE)
        new_york = datetime(2024, 1, 12, 10, 0, tzinfo=ZoneInfo("America/New_York"))
        assert window.contains(new_york) is True  # 16:00 in Berlin
        plus_one = datetime(2024, 1, 12, 15, 59, tzinfo=timezone(timedelta(hours=1)))
        assert window.contains(plus_one) is False

    def test_refuses_a_naive_datetime(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            parse_freeze_window(WEEKEND_FREEZE).contains(datetime(2024, 1, 13, 12, 0))


class TestWhenAWindowOpensAgain:
    def test_an_open_window_is_open_now(self) -> None:
        at = utc(2024, 1, 17, 12, 0)
        assert parse_freeze_window(WEEKEND_FREEZE).next_open(at) == at

    def test_returns_utc_even_for_an_instant_in_another_zone(self) -> None:
        at = datetime(2024, 1, 17, 12, 0, tzinfo=BERLIN)
        opened = parse_freeze_window(WEEKEND_FREEZE).next_open(at)
        assert opened == at
        assert opened.tzinfo is UTC

    def test_a_weekend_window_opens_on_monday(self) -> None:
        window = parse_freeze_window(WEEKEND_FREEZE)
        assert window.next_open(utc(2024, 1, 13, 12, 0)) == utc(2024, 1, 15, 7, 0)
        assert window.next_open(utc(2024, 1, 15, 6, 59)) == utc(2024, 1, 15, 7, 0)

    def test_opens_at_local_time_after_spring_forward(self) -> None:
        window = parse_freeze_window(WEEKEND_FREEZE)
        opened = window.next_open(utc(2024, 3, 30, 12, 0))
        assert opened == utc(2024, 4, 1, 6, 0)  # Mon 08:00 CEST
        assert opened.astimezone(BERLIN).time() == time(8, 0)

    def test_opens_at_local_time_after_fall_back(self) -> None:
        window = parse_freeze_window(WEEKEND_FREEZE)
        assert window.next_open(utc(2024, 10, 26, 12, 0)) == utc(2024, 10, 28, 7, 0)

    def test_an_end_inside_the_spring_gap_opens_at_the_jump(self) -> None:
        window = parse_freeze_window("Sun 01:00-Sun 02:30 Europe/Berlin")
        at = utc(2024, 3, 31, 0, 30)  # 01:30 CET
        opened = window.next_open(at)
        assert opened == utc(2024, 3, 31, 1, 0)  # the clock jumps from 02:00 CET to 03:00 CEST
        assert window.contains(opened) is False
        assert window.contains(opened - timedelta(seconds=1)) is True

    def test_the_repeated_autumn_hour_opens_after_each_pass(self) -> None:
        window = parse_freeze_window("Sun 02:00-Sun 02:30 Europe/Berlin")
        assert window.next_open(utc(2024, 10, 27, 0, 10)) == utc(2024, 10, 27, 0, 30)
        assert window.next_open(utc(2024, 10, 27, 1, 10)) == utc(2024, 10, 27, 1, 30)

    def test_a_window_that_wraps_almost_the_whole_week(self) -> None:
        window = parse_freeze_window("Mon 10:00-Mon 09:00")
        assert window.contains(utc(2024, 1, 15, 9, 30)) is False
        assert window.next_open(utc(2024, 1, 15, 11, 0)) == utc(2024, 1, 22, 9, 0)

    def test_the_instant_it_opens_is_the_first_one_outside(self) -> None:
        window = parse_freeze_window(WEEKEND_FREEZE)
        for at in (utc(2024, 3, 29, 20, 0), utc(2024, 10, 27, 1, 30), utc(2024, 12, 29, 9, 0)):
            opened = window.next_open(at)
            assert window.contains(opened) is False
            assert window.contains(opened - timedelta(microseconds=1)) is True


class TestWhichWindowFreezes:
    def test_names_the_first_window_in_effect(self) -> None:
        weekend = parse_freeze_window(WEEKEND_FREEZE)
        nights = parse_freeze_window("Sat 20:00-Sun 06:00 UTC")
        assert frozen_by([weekend, nights], utc(2024, 1, 13, 22, 0)) is weekend
        assert frozen_by([nights, weekend], utc(2024, 1, 13, 22, 0)) is nights
        assert frozen_by([nights, weekend], utc(2024, 1, 13, 12, 0)) is weekend

    def test_none_when_approvals_are_open(self) -> None:
        weekend = parse_freeze_window(WEEKEND_FREEZE)
        assert frozen_by([weekend], utc(2024, 1, 17, 12, 0)) is None
        assert frozen_by([], utc(2024, 1, 13, 12, 0)) is None
