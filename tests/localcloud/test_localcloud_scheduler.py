"""Schedules: the template's rate/cron events, and Scheduler schedules created at runtime, on an injected clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from localcloud.scheduler import Scheduler
from tests.localcloud.fixtures.fakeapp import journal

T0 = datetime(2026, 11, 22, 9, 30, 15, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/scheduler"


class Calls:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def __call__(self, function: str, event: dict) -> None:
        self.calls.append((function, event))


def test_given_a_rate_schedule_when_the_clock_passes_each_minute_then_it_fires_once_per_period_with_a_scheduled_event(
    fixture_stack,
):
    calls = Calls()
    scheduler = Scheduler(fixture_stack, calls, clock=lambda: T0)

    assert scheduler.tick(T0 + timedelta(seconds=59)) == []
    assert scheduler.tick(T0 + timedelta(seconds=60.4)) == ["fleetgate-local-TickerFunction-schedule-1"]
    assert scheduler.tick(T0 + timedelta(seconds=61)) == []
    assert len(scheduler.tick(T0 + timedelta(seconds=120))) == 1  # on the period grid: the tick lag does not drift
    assert len(scheduler.tick(T0 + timedelta(minutes=10, seconds=5))) == 1  # missed minutes fire once, not 8 times
    assert len(scheduler.tick(T0 + timedelta(minutes=11))) == 1

    function, event = calls.calls[0]
    assert function == "TickerFunction"
    assert event == {
        "version": "0",
        "id": event["id"],
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-22T09:31:15Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/fleetgate-local-TickerFunction-schedule-1"],
        "detail": {},
    }
    assert [e["time"] for _, e in calls.calls] == [
        "2026-11-22T09:31:15Z",
        "2026-11-22T09:32:15Z",
        "2026-11-22T09:40:15Z",
        "2026-11-22T09:41:15Z",
    ]


def test_given_a_cron_schedule_v2_with_input_when_its_time_comes_then_the_function_gets_the_input(fixture_stack):
    calls = Calls()
    scheduler = Scheduler(fixture_stack, calls, clock=lambda: T0)
    two_am = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

    scheduler.tick(two_am - timedelta(seconds=1))
    calls.calls.clear()
    fired = scheduler.tick(two_am)

    assert fired == ["fleetgate-local-TickerFunction-schedule-2"]
    assert calls.calls == [("TickerFunction", {"job": "nightly"})]


def test_given_a_disabled_schedule_when_reading_the_template_then_it_is_not_planned(fixture_stack):
    scheduler = Scheduler(fixture_stack, Calls(), clock=lambda: T0)

    assert sorted(p.text for p in scheduler.template) == ["cron(0 2 * * ? *)", "rate(1 minute)"]


def _create_at(cloud, name: str, when: datetime, target: dict, after: str = "DELETE") -> None:
    cloud.scheduler.create_schedule(
        Name=name,
        ScheduleExpression=f"at({when:%Y-%m-%dT%H:%M:%S})",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"RoleArn": ROLE, **target},
        ActionAfterCompletion=after,
    )


def _runtime(fired: list[str]) -> list[str]:
    """What fired among the runtime schedules (the template's rate(1 minute) fires along)."""
    return [name for name in fired if name.startswith("default/")]


def _names(cloud) -> list[str]:
    return [s["Name"] for s in cloud.scheduler.list_schedules()["Schedules"]]


def test_given_a_due_at_schedule_created_by_application_code_when_ticking_then_it_fires_exactly_once_and_is_deleted(
    fixture_cloud, tag
):
    # given: application code schedules a one-time call of AtTargetFunction (ARN as the template resolves it)
    target_arn = fixture_cloud.stack.functions["AtTargetFunction"].environment["AT_TARGET_ARN"]
    due = T0 + timedelta(minutes=10)
    _create_at(fixture_cloud, f"remind-{tag}", due, {"Arn": target_arn, "Input": json.dumps({"tag": tag})})
    scheduler = Scheduler(
        fixture_cloud.stack,
        fixture_cloud.functions.invoke,
        scheduler=fixture_cloud.scheduler,
        sqs=fixture_cloud.sqs,
        clock=lambda: T0,
    )

    # when the clock is before the time: nothing; at the time: it fires; afterwards: never again
    assert _runtime(scheduler.tick(due - timedelta(seconds=1))) == []
    assert _runtime(scheduler.tick(due)) == [f"default/remind-{tag}"]
    assert _runtime(scheduler.tick(due + timedelta(minutes=5))) == []

    assert [e for e in journal.received("at_target") if e.get("tag") == tag] == [{"tag": tag}]
    assert f"remind-{tag}" not in _names(fixture_cloud)


def test_given_an_at_schedule_targeting_a_queue_when_due_then_its_input_is_sent_to_the_queue(fixture_cloud, tag):
    queue_arn = fixture_cloud.stack.resolve({"Fn::GetAtt": ["WorkDeadLetterQueue", "Arn"]})
    _create_at(fixture_cloud, f"to-queue-{tag}", T0, {"Arn": queue_arn, "Input": f"payload-{tag}"})
    scheduler = Scheduler(
        fixture_cloud.stack,
        fixture_cloud.functions.invoke,
        scheduler=fixture_cloud.scheduler,
        sqs=fixture_cloud.sqs,
        clock=lambda: T0,
    )

    scheduler.tick(T0 + timedelta(seconds=1))

    got = fixture_cloud.sqs.receive_message(QueueUrl=fixture_cloud.queue_urls["WorkDeadLetterQueue"])
    assert [m["Body"] for m in got["Messages"]] == [f"payload-{tag}"]


def test_given_an_at_schedule_kept_after_completion_when_ticking_again_then_it_does_not_fire_twice(fixture_cloud, tag):
    target_arn = fixture_cloud.stack.resolve({"Fn::GetAtt": ["AtTargetFunction", "Arn"]})
    _create_at(fixture_cloud, f"keep-{tag}", T0, {"Arn": target_arn, "Input": json.dumps({"tag": tag})}, after="NONE")
    scheduler = Scheduler(
        fixture_cloud.stack, fixture_cloud.functions.invoke, scheduler=fixture_cloud.scheduler, clock=lambda: T0
    )

    assert _runtime(scheduler.tick(T0)) == [f"default/keep-{tag}"]
    assert _runtime(scheduler.tick(T0 + timedelta(hours=1))) == []

    assert f"keep-{tag}" in _names(fixture_cloud)
    assert len([e for e in journal.received("at_target") if e.get("tag") == tag]) == 1


def test_given_a_schedule_targeting_an_unknown_function_when_due_then_nothing_is_invoked_and_it_is_still_deleted(
    fixture_cloud, tag, caplog
):
    calls = Calls()
    _create_at(
        fixture_cloud,
        f"stray-{tag}",
        T0,
        {"Arn": "arn:aws:lambda:us-east-1:123456789012:function:not-in-this-stack", "Input": "{}"},
    )
    scheduler = Scheduler(fixture_cloud.stack, calls, scheduler=fixture_cloud.scheduler, clock=lambda: T0)

    scheduler.tick(T0)

    assert calls.calls == []
    assert "not a function of this stack" in caplog.text
    assert f"stray-{tag}" not in _names(fixture_cloud)


@pytest.mark.parametrize("bad", ["rate(1 minutes)", "cron(0 12 * * * *)", "cron(0 12 L * ? *)"])
def test_given_an_invalid_template_expression_when_planning_then_the_error_names_the_function(fixture_stack, bad):
    fixture_stack.functions["TickerFunction"].schedules[0] = {"Schedule": bad}

    with pytest.raises(ValueError, match="TickerFunction"):
        Scheduler(fixture_stack, Calls(), clock=lambda: T0)


def test_given_an_at_schedule_targeting_a_missing_queue_when_due_then_the_error_is_logged_and_others_still_fire(
    fixture_cloud, tag, caplog
):
    missing = f"arn:aws:sqs:us-east-1:123456789012:no-such-queue-{tag}"
    target_arn = fixture_cloud.stack.resolve({"Fn::GetAtt": ["AtTargetFunction", "Arn"]})
    _create_at(fixture_cloud, f"broken-{tag}", T0, {"Arn": missing, "Input": "x"})
    _create_at(fixture_cloud, f"fine-{tag}", T0, {"Arn": target_arn, "Input": json.dumps({"tag": tag})})
    scheduler = Scheduler(
        fixture_cloud.stack,
        fixture_cloud.functions.invoke,
        scheduler=fixture_cloud.scheduler,
        sqs=fixture_cloud.sqs,
        clock=lambda: T0,
    )

    fired = _runtime(scheduler.tick(T0))

    assert sorted(fired) == [f"default/broken-{tag}", f"default/fine-{tag}"]
    assert "could not deliver" in caplog.text
    assert [e for e in journal.received("at_target") if e.get("tag") == tag] == [{"tag": tag}]


def test_given_a_scheduled_function_that_fails_then_lambdas_failure_record_reaches_its_on_failure_queue(aws):
    """OfflineFunction's EventInvokeConfig names ScheduleFailuresQueue: a failed run is parked there, with the event."""
    import boto3

    from tests.support import STACK

    sqs = boto3.client("sqs", region_name="us-east-1")

    def failing(function: str, event: dict) -> None:
        raise RuntimeError(f"{function} broke")

    scheduler = Scheduler(STACK, failing, sqs=sqs, clock=lambda: T0)
    fired = scheduler.tick(T0 + timedelta(minutes=1))

    assert "fleetgate-local-OfflineFunction-schedule-1" in fired
    url = sqs.get_queue_url(QueueName=STACK.physical_name("ScheduleFailuresQueue"))["QueueUrl"]
    records = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    offline = [r for r in records if r["requestContext"]["functionArn"].endswith("OfflineFunction")]
    assert len(offline) == 1
    assert offline[0]["requestPayload"]["detail-type"] == "Scheduled Event"
    assert offline[0]["responsePayload"] == {"errorMessage": "OfflineFunction broke", "errorType": "RuntimeError"}
