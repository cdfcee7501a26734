"""EventBridge's part: fire schedules, which moto stores but never runs.

Two kinds:
- **template schedules**: a function's ``Schedule`` / ``ScheduleV2`` events, invoked with an EventBridge
  "Scheduled Event" (or the event's ``Input``);
- **runtime schedules**: EventBridge Scheduler schedules application code creates with boto3
  (``at(...)`` one-time ones above all, but ``rate``/``cron`` too). Polled from moto every tick;
  when due, ``Target.Input`` goes to the target (a function of the stack, or an SQS queue), and a
  schedule with ``ActionAfterCompletion: DELETE`` is deleted after its one run.

The clock is injectable and :meth:`Scheduler.tick` runs one pass, so tests fire schedules without waiting.
Invocations are synchronous within a tick and, unlike AWS, failed ones are not retried: they are logged, and a
function with an ``EventInvokeConfig`` OnFailure queue gets Lambda's failure record there, as on AWS.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from localcloud.expressions import At, Expression, parse
from localcloud.template import Stack

log = logging.getLogger("localcloud.scheduler")

Clock = Callable[[], datetime]
Invoke = Callable[[str, dict[str, Any]], Any]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Planned:
    """A schedule and when it fires next (None: never again)."""

    name: str
    expression: Expression
    next_fire: datetime | None
    version: Any = None  # runtime schedules: LastModificationDate, to notice updates
    detail: dict[str, Any] = field(default_factory=dict)  # runtime schedules: GetSchedule's answer

    def advance(self, now: datetime) -> datetime:
        """Move past the latest fire time that is due (returned). Missed ones are skipped, not fired in a
        burst, and rate schedules stay on their period grid, whatever the tick's lag."""
        due = self.next_fire
        assert due is not None
        following = None if isinstance(self.expression, At) else self.expression.next_after(due)
        while following is not None and following <= now:
            due, following = following, self.expression.next_after(following)
        self.next_fire = following
        return due


@dataclass
class TemplateSchedule(_Planned):
    function: str = ""
    input: str | None = None
    text: str = ""  # the expression as written


def template_schedules(stack: Stack, now: datetime) -> list[TemplateSchedule]:
    """Every enabled Schedule/ScheduleV2 event of the stack, planned from ``now``."""
    out = []
    for fn in stack.functions.values():
        for index, props in enumerate(fn.schedules, start=1):
            if props.get("Enabled") is False or props.get("State") == "DISABLED":
                continue
            text = stack.resolve(props.get("Schedule") or props.get("ScheduleExpression"))  # may be a parameter
            try:
                expression = parse(str(text), props.get("ScheduleExpressionTimezone"))
            except ValueError as exc:
                raise ValueError(f"{fn.logical_id}: {exc}") from None
            name = props.get("Name") or f"{stack.physical_name(fn.logical_id)}-schedule-{index}"
            out.append(
                TemplateSchedule(
                    name=name,
                    expression=expression,
                    next_fire=expression.next_after(now),
                    function=fn.logical_id,
                    input=props.get("Input"),
                    text=str(text),
                )
            )
    return out


def scheduled_event(stack: Stack, rule_name: str, when: datetime) -> dict[str, Any]:
    """The event EventBridge sends a function on a schedule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": stack.account,
        "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": stack.region,
        "resources": [f"arn:aws:events:{stack.region}:{stack.account}:rule/{rule_name}"],
        "detail": {},
    }


def _payload(text: str | None) -> Any:
    """Lambda payloads are JSON: the Input parsed (a non-JSON Input is passed as a string)."""
    if text is None:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return text


class Scheduler:
    def __init__(
        self,
        stack: Stack,
        invoke: Invoke,
        *,
        scheduler: Any = None,
        sqs: Any = None,
        clock: Clock = utc_now,
        interval: float = 1.0,
    ):
        """``scheduler``/``sqs``: boto3 clients for runtime schedules and SQS targets (None: template only)."""
        self.stack = stack
        self.invoke = invoke
        self.scheduler = scheduler
        self.sqs = sqs
        self.clock = clock
        self.interval = interval
        self.template = template_schedules(stack, clock())
        self._runtime: dict[str, _Planned] = {}  # schedule ARN → plan
        self._functions = {stack.physical_name(lid): lid for lid in stack.functions}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, now: datetime | None = None) -> list[str]:
        """Fire everything due at ``now`` (default: the clock); returns the names of what fired."""
        now = now or self.clock()
        fired = []
        for plan in self.template:
            if plan.next_fire is not None and plan.next_fire <= now:
                fired.append(plan.name)
                due = plan.advance(now)
                event = scheduled_event(self.stack, plan.name, due) if plan.input is None else _payload(plan.input)
                self._invoke(plan.function, event, plan.name)
        if self.scheduler is not None:
            fired.extend(self._tick_runtime(now))
        return fired

    # ---------------------------------------------------------------- runtime (EventBridge Scheduler) schedules
    def _tick_runtime(self, now: datetime) -> list[str]:
        fired, listed = [], set()
        for page in self.scheduler.get_paginator("list_schedules").paginate():
            for summary in page.get("Schedules", []):
                arn = summary["Arn"]
                listed.add(arn)
                if summary.get("State") == "DISABLED":
                    continue
                plan = self._runtime.get(arn)
                if plan is None or plan.version != summary.get("LastModificationDate"):
                    plan = self._runtime[arn] = self._plan(summary, now)
                if plan.next_fire is None or plan.next_fire > now:
                    continue
                if not self._within_window(plan.detail, now):
                    continue
                fired.append(plan.name)
                plan.advance(now)
                try:
                    self._deliver(plan.detail["Target"], plan.name)
                except Exception:  # e.g. a queue that does not exist; AWS would retry, then drop or dead-letter
                    log.exception("schedule %s could not deliver to %s", plan.name, plan.detail["Target"]["Arn"])
                if isinstance(plan.expression, At) and plan.detail.get("ActionAfterCompletion") == "DELETE":
                    self.scheduler.delete_schedule(Name=summary["Name"], GroupName=summary["GroupName"])
                    del self._runtime[arn]
                    listed.discard(arn)
        for arn in set(self._runtime) - listed:  # deleted by the application
            del self._runtime[arn]
        return fired

    def _plan(self, summary: dict[str, Any], now: datetime) -> _Planned:
        detail = self.scheduler.get_schedule(Name=summary["Name"], GroupName=summary["GroupName"])
        name, version = f"{summary['GroupName']}/{summary['Name']}", summary.get("LastModificationDate")
        try:
            expression = parse(detail["ScheduleExpression"], detail.get("ScheduleExpressionTimezone"))
        except ValueError as exc:
            log.error("schedule %s will never fire: %s", name, exc)
            return _Planned(name, At(now), None, version, detail)
        # A one-time schedule fires at its time (at once if that has passed); a recurring one from now on.
        first = expression.when if isinstance(expression, At) else expression.next_after(now)
        return _Planned(name, expression, first, version, detail)

    @staticmethod
    def _within_window(detail: dict[str, Any], now: datetime) -> bool:
        start, end = detail.get("StartDate"), detail.get("EndDate")
        return not ((isinstance(start, datetime) and now < start) or (isinstance(end, datetime) and now > end))

    def _deliver(self, target: dict[str, Any], name: str) -> None:
        arn: str = target["Arn"]
        parts = arn.split(":")
        if arn.startswith("arn:aws:lambda:") and len(parts) >= 7:
            function = self._functions.get(parts[6]) or (parts[6] if parts[6] in self.stack.functions else None)
            if function is None:
                log.error("schedule %s targets %s, which is not a function of this stack", name, arn)
                return
            self._invoke(function, _payload(target.get("Input")), name)
        elif arn.startswith("arn:aws:sqs:") and self.sqs is not None:
            url = self.sqs.get_queue_url(QueueName=parts[5])["QueueUrl"]
            extra = {}
            if target.get("SqsParameters", {}).get("MessageGroupId"):
                extra["MessageGroupId"] = target["SqsParameters"]["MessageGroupId"]
            self.sqs.send_message(QueueUrl=url, MessageBody=target.get("Input") or "{}", **extra)
            log.info("schedule %s sent its input to %s", name, parts[5])
        else:
            log.error(
                "schedule %s: target %s is not supported locally (Lambda functions and SQS queues are)", name, arn
            )

    def _invoke(self, function: str, event: Any, name: str) -> None:
        log.info("schedule %s fires %s", name, function)
        try:
            self.invoke(function, event)
        except Exception as exc:
            log.exception("%s failed on schedule %s (the local cloud does not retry)", function, name)
            self._on_failure(function, event, exc)

    def _on_failure(self, function: str, event: Any, exc: Exception) -> None:
        """Lambda's record of a failed asynchronous invocation, to the function's OnFailure queue (if it has one)."""
        queue = self.stack.functions[function].on_failure_queue
        if queue is None or self.sqs is None:
            return
        record = {
            "version": "1.0",
            "timestamp": self.clock().isoformat(),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{self.stack.region}:{self.stack.account}:function:"
                f"{self.stack.physical_name(function)}",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 1,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": str(exc)[:1000], "errorType": type(exc).__name__},
        }
        url = self.sqs.get_queue_url(QueueName=self.stack.physical_name(queue))["QueueUrl"]
        self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record, default=str))

    # ---------------------------------------------------------------- background thread
    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:
                if self._stop.is_set():
                    break
                log.exception("scheduler tick failed")

    def stop(self, wait: bool = True) -> None:
        self._stop.set()
        if wait and self._thread is not None:
            self._thread.join(timeout=10)
