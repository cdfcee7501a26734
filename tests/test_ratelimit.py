"""Rate limits (fleetgate.ratelimit): counted across instances in DynamoDB, refused with a time to retry."""

import uuid

import pytest

from fleetgate.core.errors import TooManyRequests
from fleetgate.ratelimit import service as ratelimit
from fleetgate.ratelimit.service import Limit
from tests.support import RECORDER


def _limit(maximum: int = 3, window: int = 60) -> Limit:
    return Limit(scope=f"test-{uuid.uuid4().hex[:8]}", maximum=maximum, window_seconds=window)


def test_given_a_limit_of_three_when_hit_four_times_then_the_fourth_is_refused_with_a_retry_after(aws):
    limit = _limit()
    assert [ratelimit.hit(limit, "10.0.0.1") for _ in range(3)] == [1, 2, 3]
    with pytest.raises(TooManyRequests) as refused:
        ratelimit.hit(limit, "10.0.0.1")
    assert refused.value.status == 429
    assert 1 <= refused.value.retry_after <= 60
    # another key, and the same key under another scope, have their own counters
    assert ratelimit.hit(limit, "10.0.0.2") == 1
    assert ratelimit.hit(_limit(), "10.0.0.1") == 1


def test_given_a_window_that_ended_when_hit_again_then_the_count_starts_over(aws, monkeypatch):
    import time as _time

    limit = _limit(maximum=1, window=10)
    now = [1_000_000_005.0]
    monkeypatch.setattr(_time, "time", lambda: now[0])
    ratelimit.hit(limit, "k")
    with pytest.raises(TooManyRequests) as refused:
        ratelimit.hit(limit, "k")
    assert refused.value.retry_after == 5  # the window is [1_000_000_000, 1_000_000_010)
    now[0] += 5
    assert ratelimit.hit(limit, "k") == 1


def test_given_failures_counted_when_checked_then_check_counts_nothing_and_clear_forgets(aws):
    limit = _limit(maximum=2)
    ratelimit.check(limit, "account")
    ratelimit.hit(limit, "account")
    ratelimit.check(limit, "account")  # 1 of 2: allowed, and checking twice does not count
    ratelimit.check(limit, "account")
    ratelimit.hit(limit, "account")
    with pytest.raises(TooManyRequests):
        ratelimit.check(limit, "account")
    ratelimit.clear(limit, "account")
    ratelimit.check(limit, "account")


def test_given_a_hit_and_a_check_then_each_costs_one_call_and_keys_are_not_stored_in_clear(aws):
    import boto3

    limit = _limit()
    RECORDER.calls.clear()
    ratelimit.hit(limit, "+27821234567")
    assert RECORDER.calls == ["UpdateItem"]
    RECORDER.calls.clear()
    ratelimit.check(limit, "+27821234567")
    assert RECORDER.calls == ["GetItem"]
    from fleetgate.core.settings import table_name

    table = boto3.resource("dynamodb", region_name="us-east-1").Table(table_name("RATE_LIMITS_TABLE"))
    keys = [i["key"] for i in table.scan()["Items"]]  # the test inspects the table; no request path scans
    assert keys and all("+27821234567" not in k for k in keys)
    RECORDER.calls.clear()
