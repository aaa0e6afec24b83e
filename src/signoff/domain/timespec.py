"""Durations and freeze windows, as people write them in policies.

``min_soak = "24h"``, ``request_expiry = "7d"`` and ``freeze = ["Fri 16:00-Mon 08:00
Europe/Berlin"]`` are typed by hand into ``signoff.toml``; this module turns them into values
and refuses anything else with a message that names the text.

Freeze windows repeat weekly and are read on the wall clock of their time zone: "Fri 16:00"
means 16:00 in Berlin whether Berlin is on CET or CEST, which is what the author meant. The
start is inclusive and the end exclusive. At DST changes this has two consequences:

- a boundary inside the spring-forward gap (02:30 on the last Sunday of March in Berlin) takes
  effect at the first instant the clock reads that time or later, i.e. at the jump (03:00);
- in the repeated autumn hour the clock shows the same times twice, and a window covering
  those times is in effect both times (freezing twice is the safe side).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from signoff.errors import InvalidInput

__all__ = [
    "FreezeWindow",
    "format_duration",
    "frozen_by",
    "parse_duration",
    "parse_freeze_window",
]

_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
# Units in descending order, each at most once, optionally separated by spaces ("1h 30m"),
# so that everything format_duration prints can be read back.
_DURATION = re.compile(r"".join(rf"(?:(?P<{u}>[0-9]{{1,9}}){u})?\s*" for u in _UNITS))
_SECONDS = re.compile(r"[0-9]{1,12}")
_DURATION_HELP = "expected whole seconds or units like '90s', '15m', '24h', '7d', '2w', '1h30m'"

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WINDOW = re.compile(
    r"(?P<start_day>[A-Za-z]+)\s+(?P<start>[0-9]{1,2}:[0-9]{2})\s*-\s*"
    r"(?P<end_day>[A-Za-z]+)\s+(?P<end>[0-9]{1,2}:[0-9]{2})(?:\s+(?P<tz>\S+))?"
)
_WINDOW_HELP = "expected e.g. 'Fri 16:00-Mon 08:00 Europe/Berlin' (time zone defaults to UTC)"


def parse_duration(text: str) -> timedelta:
    """Parse ``"90s"``, ``"1h30m"``, ``"7d"``, ``"3600"`` (seconds); raises InvalidInput."""
    if not isinstance(text, str):
        raise InvalidInput(f"invalid duration {text!r}: {_DURATION_HELP}", details={})
    stripped = text.strip()
    if _SECONDS.fullmatch(stripped):
        return timedelta(seconds=int(stripped))
    match = _DURATION.fullmatch(stripped)
    if not stripped or match is None or not any(match.groupdict().values()):
        negative = stripped.startswith("-")
        problem = "a duration cannot be negative" if negative else _DURATION_HELP
        raise InvalidInput(f"invalid duration {text!r}: {problem}", details={"duration": text})
    seconds = sum(int(n) * _UNITS[unit] for unit, n in match.groupdict().items() if n)
    try:
        return timedelta(seconds=seconds)
    except OverflowError:  # "999999999w" is syntactically fine but beyond timedelta
        raise InvalidInput(
            f"invalid duration {text!r}: too long", details={"duration": text}
        ) from None


def format_duration(td: timedelta) -> str:
    """``"1d 2h"``, ``"15m"``, ``"0s"``: days at most (weeks read worse), sub-seconds dropped."""
    if td < timedelta(0):
        return "-" + format_duration(-td)
    remaining = td // timedelta(seconds=1)
    parts = []
    for unit in ("d", "h", "m", "s"):
        count, remaining = divmod(remaining, _UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts) or "0s"


def _week_offset(wall: datetime) -> timedelta:
    """How far a wall-clock time is from the Monday 00:00 before it."""
    return timedelta(
        days=wall.weekday(),
        hours=wall.hour,
        minutes=wall.minute,
        seconds=wall.second,
        microseconds=wall.microsecond,
    )


def _wall(at: datetime, tz: ZoneInfo) -> datetime:
    """What the clock in ``tz`` reads at the instant ``at`` (naive)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got {at!r}")
    return at.astimezone(tz).replace(tzinfo=None)


def _first_instant(wall: datetime, tz: ZoneInfo, after: datetime) -> datetime:
    """The first instant after ``after`` at which the clock in ``tz`` reads ``wall`` or later."""
    # fold=0/1 pick the first/second reading of an ambiguous (autumn) wall time.
    readings = sorted(wall.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1))
    real = [instant for instant in readings if _wall(instant, tz) == wall]
    if real:
        return next((instant for instant in real if instant > after), real[-1])
    # `wall` falls in a spring-forward gap: the clock jumps over it, so the answer is the jump.
    # The two readings straddle it; bisect on whole seconds (tzdata transitions are whole).
    low, high = (int(instant.timestamp()) for instant in readings)
    while high - low > 1:
        middle = (low + high) // 2
        if _wall(datetime.fromtimestamp(middle, UTC), tz) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


@dataclass(frozen=True)
class FreezeWindow:
    """A weekly period in which approvals are refused; build it with parse_freeze_window."""

    text: str
    start_day: int  # 0 = Monday, as datetime.weekday()
    start_time: time
    end_day: int
    end_time: time
    tz: ZoneInfo

    def __str__(self) -> str:
        return self.text

    @property
    def _start(self) -> timedelta:
        return timedelta(
            days=self.start_day, hours=self.start_time.hour, minutes=self.start_time.minute
        )

    @property
    def _end(self) -> timedelta:
        return timedelta(days=self.end_day, hours=self.end_time.hour, minutes=self.end_time.minute)

    def contains(self, at: datetime) -> bool:
        """Whether the window is in effect at the aware instant ``at``."""
        offset = _week_offset(_wall(at, self.tz))
        if self._start < self._end:
            return self._start <= offset < self._end
        # The window wraps over the end of the week (Fri -> Mon, or Sun 22:00 -> Mon 02:00).
        return offset >= self._start or offset < self._end

    def next_open(self, at: datetime) -> datetime:
        """When the window is next not in effect (aware, UTC); ``at`` itself if open then."""
        if not self.contains(at):
            return at.astimezone(UTC)
        wall = _wall(at, self.tz)
        days_ahead = (self.end_day - wall.weekday()) % 7
        end = datetime.combine(wall.date() + timedelta(days=days_ahead), self.end_time)
        if end <= wall:
            end += timedelta(days=7)
        return _first_instant(end, self.tz, after=at)


def _invalid_window(text: str, problem: str) -> InvalidInput:
    return InvalidInput(f"invalid freeze window {text!r}: {problem}", details={"window": text})


def _weekday(text: str, name: str) -> int:
    lowered = name.lower()
    for index, day in enumerate(_DAYS):
        if lowered in (day, day[:3]):
            return index
    raise _invalid_window(text, f"unknown weekday {name!r}")


def _clock(text: str, value: str) -> time:
    hours, minutes = (int(part) for part in value.split(":"))
    if hours > 23 or minutes > 59:
        raise _invalid_window(text, f"invalid time {value!r}")
    return time(hours, minutes)


def _zone(text: str, key: str) -> ZoneInfo:
    try:
        return ZoneInfo(key)
    # Not found, a path outside the tz database ("../x"), or a directory ("Europe").
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _invalid_window(text, f"unknown time zone {key!r}") from None


def parse_freeze_window(text: str) -> FreezeWindow:
    """Parse ``"Fri 16:00-Mon 08:00 Europe/Berlin"``; raises InvalidInput."""
    if not isinstance(text, str):
        raise _invalid_window(repr(text), _WINDOW_HELP)
    stripped = text.strip()
    match = _WINDOW.fullmatch(stripped)
    if match is None:
        raise _invalid_window(text, _WINDOW_HELP)
    window = FreezeWindow(
        text=stripped,
        start_day=_weekday(text, match["start_day"]),
        start_time=_clock(text, match["start"]),
        end_day=_weekday(text, match["end_day"]),
        end_time=_clock(text, match["end"]),
        tz=_zone(text, match["tz"] or "UTC"),
    )
    if window.start_day == window.end_day and window.start_time == window.end_time:
        raise _invalid_window(text, "start and end are the same time, so the window is empty")
    return window


def frozen_by(windows: Sequence[FreezeWindow], at: datetime) -> FreezeWindow | None:
    """The first window in effect at ``at``, or None when approvals are open."""
    return next((window for window in windows if window.contains(at)), None)
