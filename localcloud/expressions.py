"""EventBridge schedule expressions: ``rate(...)``, ``cron(...)`` (AWS's 6 fields) and Scheduler's ``at(...)``.

Each parsed expression answers one question, :meth:`next_after`: the first
fire time strictly after a given instant (``None`` when it never fires again).
Times in and out are timezone-aware; ``cron`` and ``at`` are read in the
schedule's time zone (UTC unless ``ScheduleExpressionTimezone`` says otherwise).

AWS cron fields: ``minutes hours day-of-month month day-of-week year``, with
day-of-week 1-7 = SUN-SAT, and exactly one of day-of-month / day-of-week ``?``.
Supported: numbers, names (JAN-DEC, SUN-SAT), ``*``, ``?``, ranges, lists and
steps (``0/15``, ``*/5``, ``10-50/10``). ``L``, ``W`` and ``#`` are rejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

# name, lowest, highest, names (index 0 = lowest)
_FIELDS = [
    ("minutes", 0, 59, None),
    ("hours", 0, 23, None),
    ("day-of-month", 1, 31, None),
    ("month", 1, 12, MONTHS),
    ("day-of-week", 1, 7, DAYS),
    ("year", 1970, 2199, None),
]
_RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


class Expression(Protocol):
    def next_after(self, instant: datetime) -> datetime | None: ...


def parse(expression: str, tz: str | None = None) -> Expression:
    """Parse a schedule expression; :class:`ValueError` says what is wrong with it."""
    text = expression.strip()
    m = re.fullmatch(r"(rate|cron|at)\((.*)\)", text)
    if not m:
        raise ValueError(f"{expression!r}: expected rate(...), cron(...) or at(...)")
    kind, body = m.group(1), m.group(2).strip()
    try:
        zone = ZoneInfo(tz) if tz and tz != "UTC" else UTC
    except (ValueError, ZoneInfoNotFoundError):
        raise ValueError(f"{expression!r}: unknown time zone {tz!r}") from None
    if kind == "rate":
        return Rate.parse(body)
    if kind == "cron":
        return Cron.parse(body, zone)
    return At.parse(body, zone)


@dataclass(frozen=True)
class Rate:
    period: timedelta

    @classmethod
    def parse(cls, body: str) -> Rate:
        m = re.fullmatch(r"(\d+)\s+(minute|minutes|hour|hours|day|days)", body)
        if not m:
            raise ValueError(f"rate({body}): expected 'rate(<value> minute|minutes|hour|hours|day|days)'")
        value, unit = int(m.group(1)), m.group(2)
        if value < 1:
            raise ValueError(f"rate({body}): the value must be a positive integer")
        if (value == 1) == unit.endswith("s"):
            raise ValueError(f"rate({body}): AWS wants the singular unit for 1 and the plural otherwise")
        return cls(timedelta(seconds=value * _RATE_UNITS[unit.rstrip("s")]))

    def next_after(self, instant: datetime) -> datetime:
        """A rate schedule fires one period after it is created, then every period."""
        return instant + self.period


@dataclass(frozen=True)
class At:
    when: datetime

    @classmethod
    def parse(cls, body: str, zone: timezone | ZoneInfo = UTC) -> At:
        try:
            naive = datetime.strptime(body, "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            raise ValueError(f"at({body}): expected at(yyyy-mm-ddThh:mm:ss)") from None
        return cls(naive.replace(tzinfo=zone))

    def next_after(self, instant: datetime) -> datetime | None:
        return self.when if self.when > instant else None


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None  # None: "?"
    months: frozenset[int]
    days_of_week: frozenset[int] | None  # None: "?"; 1 = Sunday
    years: frozenset[int]
    zone: timezone | ZoneInfo = UTC

    @classmethod
    def parse(cls, body: str, zone: timezone | ZoneInfo = UTC) -> Cron:
        parts = body.split()
        if len(parts) != 6:
            raise ValueError(
                f"cron({body}): AWS cron has 6 fields (minutes hours day-of-month month "
                f"day-of-week year), got {len(parts)}"
            )
        if (parts[2] == "?") == (parts[4] == "?"):
            raise ValueError(f"cron({body}): exactly one of day-of-month and day-of-week must be '?'")
        values = [_field(part, *spec, expression=body) for part, spec in zip(parts, _FIELDS, strict=True)]
        return cls(*values, zone=zone)  # type: ignore[arg-type]

    def matches_day(self, day: datetime) -> bool:
        if self.days_of_month is not None:
            return day.day in self.days_of_month
        aws_weekday = (day.weekday() + 1) % 7 + 1  # Monday=0 in Python; Sunday=1 in AWS
        return aws_weekday in self.days_of_week  # type: ignore[operator]

    def next_after(self, instant: datetime) -> datetime | None:
        """Walk forward field by field (year, month, day, hour, minute), skipping whole non-matching units."""
        t = instant.astimezone(self.zone).replace(tzinfo=None, second=0, microsecond=0) + timedelta(minutes=1)
        while t.year <= 2199:
            if t.year not in self.years:
                t = datetime(t.year + 1, 1, 1)
            elif t.month not in self.months:
                t = datetime(t.year + (t.month == 12), t.month % 12 + 1, 1)
            elif not self.matches_day(t):
                t = datetime(t.year, t.month, t.day) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = datetime(t.year, t.month, t.day, t.hour) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                return t.replace(tzinfo=self.zone).astimezone(UTC)
        return None


def _field(
    text: str, name: str, low: int, high: int, names: list[str] | None, *, expression: str
) -> frozenset[int] | None:
    def fail(why: str) -> ValueError:
        return ValueError(f"cron({expression}): {name} field {text!r}: {why}")

    if text == "?":
        if name not in ("day-of-month", "day-of-week"):
            raise fail("'?' is only allowed in day-of-month and day-of-week")
        return None
    without_names = re.sub("|".join(names), "", text.upper()) if names else text.upper()  # JUL and WED hold L, W
    if re.search(r"[LW#]", without_names):
        raise fail("L, W and # are not supported by the local cloud (use explicit days instead)")

    def number(token: str) -> int:
        upper = token.upper()
        if names and upper in names:
            return low + names.index(upper)
        if not token.isdigit():
            raise fail(f"{token!r} is not a number" + (f" or one of {', '.join(names)}" if names else ""))
        value = int(token)
        if not low <= value <= high:
            raise fail(f"{value} is outside {low}-{high}")
        return value

    out: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise fail(f"step {step_text!r} must be a positive integer")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = number(first), number(last)
            if start > end:
                raise fail(f"range {base} runs backwards")
        else:
            start = number(base)
            end = high if step_text else start  # "0/15": from 0 every 15
        out.update(range(start, end + 1, step))
    return frozenset(out)
