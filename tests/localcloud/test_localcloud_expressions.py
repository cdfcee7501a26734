"""Schedule expressions: AWS's 6-field cron, rate and at, as a table of next fire times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from localcloud.expressions import parse

# 2026-11-22 is a Sunday
AFTER = datetime(2026, 11, 22, 9, 30, 15, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("cron(0 12 * * ? *)", utc(2026, 11, 22, 12, 0)),  # every day at noon
        ("cron(15 10 ? * * *)", utc(2026, 11, 22, 10, 15)),  # later today
        ("cron(0/15 * * * ? *)", utc(2026, 11, 22, 9, 45)),  # step from 0
        ("cron(*/20 * * * ? *)", utc(2026, 11, 22, 9, 40)),  # step from *
        ("cron(10-50/20 9 * * ? *)", utc(2026, 11, 22, 9, 50)),  # step over a range
        ("cron(0 8 ? * MON-FRI *)", utc(2026, 11, 23, 8, 0)),  # weekday names: Monday next
        ("cron(0 8 ? * 1 *)", utc(2026, 11, 29, 8, 0)),  # 1 = Sunday; today's 08:00 has passed
        ("cron(0 8 ? * sat,SUN *)", utc(2026, 11, 28, 8, 0)),  # lists, names in any case
        ("cron(0 0 1 JAN,JUL ? *)", utc(2027, 1, 1, 0, 0)),  # month names
        ("cron(30 2 ? * SUN 2027)", utc(2027, 1, 3, 2, 30)),  # a year
        ("cron(0 0 29 2 ? *)", utc(2028, 2, 29, 0, 0)),  # next leap day
        ("cron(0 0 31 * ? *)", utc(2026, 12, 31, 0, 0)),  # skips 30-day months
        ("cron(0 0 1 1 ? 2025)", None),  # only in the past
        ("rate(1 minute)", utc(2026, 11, 22, 9, 31, 15)),
        ("rate(5 minutes)", utc(2026, 11, 22, 9, 35, 15)),
        ("rate(2 hours)", utc(2026, 11, 22, 11, 30, 15)),
        ("rate(1 day)", utc(2026, 11, 23, 9, 30, 15)),
        ("at(2026-11-22T10:00:00)", utc(2026, 11, 22, 10, 0)),
        ("at(2026-11-22T09:00:00)", None),
    ],
)
def test_given_an_expression_when_asking_the_next_fire_time_then_it_matches_aws_semantics(expression, expected):
    assert parse(expression).next_after(AFTER) == expected


def test_given_a_time_zone_when_asking_the_next_fire_time_then_cron_and_at_use_local_wall_time():
    assert parse("cron(0 9 * * ? *)", "Africa/Johannesburg").next_after(AFTER) == utc(2026, 11, 23, 7, 0)
    assert parse("at(2026-11-22T12:00:00)", "Europe/Berlin").next_after(AFTER) == utc(2026, 11, 22, 11, 0)


@pytest.mark.parametrize(
    "expression, message",
    [
        ("cron(0 12 * * ?)", "6 fields"),
        ("cron(0 12 * * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 12 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 12 L * ? *)", "L, W and # are not supported"),
        ("cron(0 12 15W * ? *)", "L, W and # are not supported"),
        ("cron(0 12 ? * 6#3 *)", "L, W and # are not supported"),
        ("cron(0 12 ? * 6L *)", "L, W and # are not supported"),
        ("cron(60 12 * * ? *)", "outside 0-59"),
        ("cron(0 24 * * ? *)", "outside 0-23"),
        ("cron(0 12 ? FOO * *)", "not a number"),
        ("cron(0 12 ? * FRI-MON *)", "runs backwards"),
        ("cron(0/0 12 * * ? *)", "step"),
        ("cron(? 12 ? * * *)", "only allowed in day-of-month and day-of-week"),
        ("rate(1 minutes)", "singular"),
        ("rate(5 minute)", "singular"),
        ("rate(0 minutes)", "positive"),
        ("rate(5 weeks)", "expected"),
        ("at(2026-11-22 10:00)", "yyyy-mm-ddThh:mm:ss"),
        ("every(5 minutes)", "rate(...), cron(...) or at(...)"),
    ],
)
def test_given_an_invalid_expression_when_parsing_then_the_error_says_why(expression, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        parse(expression)
