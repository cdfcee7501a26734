"""Lambda's DynamoDB Streams event source mapping: read a table's stream and invoke the consumer with real
DynamoDB stream events, retrying as Lambda does.

As on AWS:
- records come in order, per shard, at most ``BatchSize`` per invocation, from ``StartingPosition``;
- with ``ReportBatchItemFailures`` the batch counts as done up to its first failed record (the lowest sequence
  number in ``batchItemFailures``), and the stream resumes there: that record and every later one come again;
- a handler that raises, or answers with an unknown ``itemIdentifier``, fails the whole batch; with
  ``BisectBatchOnFunctionError`` such a batch is split in two and each half retried on its own;
- after ``MaximumRetryAttempts`` retries without progress the records are given up: a record describing them
  goes to ``DestinationConfig.OnFailure`` (a queue, in Lambda's format) and the stream moves on;
- ``FilterCriteria``: only records that match one of the patterns reach the function (the others are dropped, as
  Lambda does); the patterns' subset: literal values, ``exists``, ``prefix`` and ``anything-but``. A pattern
  naming an attribute the code no longer writes is then caught by the tests, as it would be on AWS.

Reading the streams (DescribeTable's LatestStreamArn, DescribeStream, GetShardIterator, GetRecords) works the same
against moto and DynamoDB Local. :meth:`StreamPoller.poll_once` is one read-invoke round, so tests deliver
records without threads.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from localcloud.background import Poller
from localcloud.template import Stack

log = logging.getLogger("localcloud.streams")

Invoke = Callable[[str, dict[str, Any]], Any]
DEFAULT_RETRIES = 3  # the local cloud's stand-in for Lambda's default (-1: until the records expire)
SHARD_REFRESH_SECONDS = 10.0


@dataclass(frozen=True)
class StreamSource:
    function: str  # logical id
    table: str  # logical id
    table_name: str
    batch_size: int
    starting_position: str  # TRIM_HORIZON | LATEST
    report_failures: bool
    bisect: bool
    max_retries: int
    on_failure_queue: str | None  # logical id of the OnFailure queue
    on_failure_queue_name: str | None
    region: str
    filters: tuple[dict[str, Any], ...] = ()  # FilterCriteria patterns; empty: every record


def stream_sources(stack: Stack) -> list[StreamSource]:
    """The enabled DynamoDB event sources of every function."""
    sources = []
    for fn in stack.functions.values():
        for props in fn.stream_sources:
            if props.get("Enabled") is False:
                continue
            destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            queue = destination["Fn::GetAtt"][0] if isinstance(destination, dict) else None
            retries = int(props.get("MaximumRetryAttempts", DEFAULT_RETRIES))
            sources.append(
                StreamSource(
                    function=fn.logical_id,
                    table=props["Stream"],
                    table_name=stack.physical_name(props["Stream"]),
                    batch_size=min(int(props.get("BatchSize", 100)), 1000),
                    starting_position=str(props.get("StartingPosition", "TRIM_HORIZON")),
                    report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                    bisect=bool(props.get("BisectBatchOnFunctionError", False)),
                    max_retries=DEFAULT_RETRIES if retries < 0 else retries,
                    on_failure_queue=queue,
                    on_failure_queue_name=stack.physical_name(queue) if queue else None,
                    region=stack.region,
                    filters=tuple(
                        json.loads(f["Pattern"]) for f in ((props.get("FilterCriteria") or {}).get("Filters") or [])
                    ),
                )
            )
    return sources


def passes(filters: tuple[dict[str, Any], ...], record: dict[str, Any]) -> bool:
    """Whether Lambda's event filtering hands ``record`` to the function: no filter, or one pattern matches."""
    return not filters or any(_matches(pattern, record) for pattern in filters)


def _matches(pattern: dict[str, Any], value: Any) -> bool:
    for key, want in pattern.items():
        present = isinstance(value, dict) and key in value
        got = value.get(key) if present else None
        if isinstance(want, dict):
            if not (present and _matches(want, got)):
                return False
        elif not any(_rule(rule, present, got) for rule in want):
            return False
    return True


def _rule(rule: Any, present: bool, got: Any) -> bool:
    if not isinstance(rule, dict):
        return present and got == rule
    if "exists" in rule:  # Lambda's exists matches a leaf value (a string, number, boolean), not an object
        return (present and not isinstance(got, dict | list)) if rule["exists"] else not present
    if "prefix" in rule:
        return present and isinstance(got, str) and got.startswith(rule["prefix"])
    if "anything-but" in rule:
        excluded = rule["anything-but"]
        return present and got not in (excluded if isinstance(excluded, list) else [excluded])
    raise ValueError(f"the local cloud does not evaluate the filter rule {rule!r}")


class StreamPoller(Poller):
    """Feeds one table's stream to its function; :meth:`poll_once` reads each shard once."""

    def __init__(
        self,
        source: StreamSource,
        *,
        dynamodb: Any,
        streams: Any,
        invoke: Invoke,
        sqs: Any = None,
        queue_urls: dict[str, str] | None = None,
        wait_seconds: float = 0.5,
    ):
        super().__init__()
        self.source = source
        self.dynamodb, self.streams, self.sqs = dynamodb, streams, sqs
        self.invoke = invoke
        self.queue_urls = queue_urls or {}
        self.idle_seconds = wait_seconds
        self.name = f"stream-{source.table}"
        self.stream_arn = ""
        self._iterators: dict[str, str | None] = {}  # shard id → next iterator (None: closed and drained)
        self._refreshed = 0.0

    # ---------------------------------------------------------------- reading
    def _refresh_shards(self) -> None:
        if not self.stream_arn:
            table = self.dynamodb.describe_table(TableName=self.source.table_name)["Table"]
            self.stream_arn = table.get("LatestStreamArn") or ""
            if not self.stream_arn:
                raise RuntimeError(f"table {self.source.table_name} has no stream (StreamSpecification)")
        first = not self._iterators
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            if shard["ShardId"] in self._iterators:
                continue
            position = self.source.starting_position if first else "TRIM_HORIZON"  # a new shard: from its start
            self._iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType=position
            )["ShardIterator"]
        self._refreshed = time.monotonic()

    def poll_once(self) -> int:
        """Read each shard once and hand what came to the function; returns how many records were read."""
        if not self._iterators or time.monotonic() - self._refreshed > SHARD_REFRESH_SECONDS:
            self._refresh_shards()
        read = 0
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            try:
                got = self.streams.get_records(ShardIterator=iterator, Limit=self.source.batch_size)
            except self.streams.exceptions.TrimmedDataAccessException:
                got = self.streams.get_records(ShardIterator=self._oldest(shard_id), Limit=self.source.batch_size)
            records = got.get("Records", [])
            if records:
                delivered = [r for r in map(self._record, records) if passes(self.source.filters, r)]
                if delivered:
                    self._process(delivered)
                read += len(records)
            self._iterators[shard_id] = got.get("NextShardIterator")
            if records:
                _forget_delivered(self.source, records[-1]["dynamodb"]["SequenceNumber"])
        return read

    def _oldest(self, shard_id: str) -> str:
        """An iterator at the oldest record the shard still holds, for one that points before it. On AWS that is a
        reader more than 24 hours behind, whose records are gone. DynamoDB Local numbers records across all its
        tables, so a table's first record may come well after its stream's starting number, and an iterator taken
        while the stream was empty counts as behind it: nothing was lost in either case that TRIM_HORIZON would
        give back."""
        log.info("%s: the iterator of shard %s is behind its oldest record; reading from there", self.name, shard_id)
        return self.streams.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def _record(self, raw: dict[str, Any]) -> dict[str, Any]:
        """A GetRecords record as Lambda hands it to the function."""
        change = dict(raw["dynamodb"])
        for image in ("Keys", "NewImage", "OldImage"):
            if image in change:
                change[image] = {k: _as_lambda_json(v) for k, v in change[image].items()}
        created = change.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            change["ApproximateCreationDateTime"] = created.timestamp()
        return {
            "eventID": raw["eventID"],
            "eventName": raw["eventName"],
            "eventVersion": raw.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": self.source.region,
            "dynamodb": change,
            "eventSourceARN": self.stream_arn,
        }

    # ---------------------------------------------------------------- delivering, with Lambda's retries
    def _process(self, records: list[dict[str, Any]]) -> None:
        remaining, failures = records, 0
        while remaining:
            failed_at = self._invoke(remaining)
            if failed_at is None:
                return
            if failed_at > 0:  # progress: what came before the failed record is done
                remaining, failures = remaining[failed_at:], 0
                continue
            failures += 1
            if failures > self.source.max_retries:
                self._give_up(remaining, failures)
                return
            if self.source.bisect and len(remaining) > 1:
                half = len(remaining) // 2
                self._process(remaining[:half])
                remaining = remaining[half:]
                failures = 0

    def _invoke(self, batch: list[dict[str, Any]]) -> int | None:
        """Invoke the function; the index of the first record to retry, or None when the batch is done."""
        src = self.source
        try:
            result = self.invoke(src.function, {"Records": batch})
        except Exception:
            log.exception("%s failed on %d record(s) of %s", src.function, len(batch), src.table_name)
            return 0
        if not src.report_failures or not isinstance(result, dict) or not result.get("batchItemFailures"):
            return None
        positions = {r["dynamodb"]["SequenceNumber"]: i for i, r in enumerate(batch)}
        try:
            failed = [positions[item["itemIdentifier"]] for item in result["batchItemFailures"]]
        except (KeyError, TypeError):
            log.error("%s answered an unknown itemIdentifier: the whole batch fails", src.function)
            return 0
        log.warning(
            "%s reported %d of %d records failed; retrying from the first", src.function, len(failed), len(batch)
        )
        return min(failed)

    def _give_up(self, batch: list[dict[str, Any]], attempts: int) -> None:
        src = self.source
        log.error(
            "%s: %d record(s) of %s failed %d times; given up%s",
            src.function,
            len(batch),
            src.table_name,
            attempts,
            f", sent to {src.on_failure_queue}" if src.on_failure_queue else "",
        )
        if src.on_failure_queue is None or self.sqs is None:
            return
        url = (
            self.queue_urls.get(src.on_failure_queue)
            or self.sqs.get_queue_url(QueueName=src.on_failure_queue_name)["QueueUrl"]
        )
        self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(self.failure_record(batch, attempts)))

    def failure_record(self, batch: list[dict[str, Any]], attempts: int) -> dict[str, Any]:
        """What Lambda sends an on-failure destination for records of a stream it gave up on."""
        first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]

        def at(change: dict[str, Any]) -> str:
            return datetime.fromtimestamp(float(change.get("ApproximateCreationDateTime") or 0), UTC).isoformat()

        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{self.source.region}:123456789012:function:{self.source.function}",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": next(iter(self._iterators), ""),
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": at(first),
                "approximateArrivalOfLastRecord": at(last),
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }


def _as_lambda_json(value: dict[str, Any]) -> dict[str, Any]:
    """An attribute value as Lambda's JSON event holds it: binary values base64-encoded (boto3 decoded them)."""
    (kind, v), *_ = value.items()
    if kind == "B":
        return {"B": base64.b64encode(v).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(x).decode() for x in v]}
    if kind == "M":
        return {"M": {k: _as_lambda_json(x) for k, x in v.items()}}
    if kind == "L":
        return {"L": [_as_lambda_json(x) for x in v]}
    return value


def _forget_delivered(source: StreamSource, sequence_number: str) -> None:
    """Let moto forget the records up to ``sequence_number`` once delivered (the mapping is their only reader). On
    AWS a stream keeps records 24 hours at no cost to the table; moto keeps them forever and deep-copies them on
    every TransactWriteItems of the table, which then slows down with every write since the start. Each delivered
    record is replaced by None in place (moto numbers records by their position, and another thread may be adding
    one). Nothing to do with DynamoDB Local (its tables are not moto's), which streams like AWS."""
    try:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends
    except ImportError:  # pragma: no cover - moto is a dev dependency
        return
    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][source.region].tables.get(source.table_name)
    shard = getattr(table, "stream_shard", None)
    if shard is None:
        return
    for index in range(min(int(sequence_number) - shard.starting_sequence_number + 1, len(shard.items)) - 1, -1, -1):
        if shard.items[index] is None:
            break  # forgotten before, and everything earlier with it
        shard.items[index] = None


class Streams:
    """Every stream mapping of a stack, drained on demand (the tests' ``api`` fixture, after each request)."""

    def __init__(self, stack: Stack, invoke: Invoke, *, dynamodb: Any, streams: Any, sqs: Any = None):
        self.pollers = [
            StreamPoller(source, dynamodb=dynamodb, streams=streams, invoke=invoke, sqs=sqs)
            for source in stream_sources(stack)
        ]

    def drain(self, tables: set[str] | None = None, rounds: int = 10) -> int:
        """Deliver every record waiting on the streams of ``tables`` (physical names; None: all)."""
        delivered = 0
        for poller in self.pollers:
            if tables is not None and poller.source.table_name not in tables:
                continue
            for _ in range(rounds):
                got = poller.poll_once()
                delivered += got
                if not got:
                    break
        return delivered
