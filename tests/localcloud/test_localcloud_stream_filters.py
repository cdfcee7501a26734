"""The local cloud applies a stream mapping's FilterCriteria as Lambda does: a pattern that names an attribute the
code does not write drops every record, here as on AWS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localcloud.streams import passes
from localcloud.template import stack as load_stack

ROOT = Path(__file__).resolve().parents[2]
HISTORY_PATTERN = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"flows": {"N": [{"exists": True}]}}}}


def _record(name: str = "INSERT", **image: dict) -> dict:
    return {"eventName": name, "dynamodb": {"Keys": {}, "NewImage": image}}


@pytest.mark.parametrize(
    ("record", "passed"),
    [
        (_record(flows={"N": "2"}, packed={"B": "eJw="}), True),
        (_record(packed={"B": "eJw="}), False),  # an entry that starts nothing
        (_record("MODIFY", flows={"N": "2"}), False),
        (_record(flows={"M": {"n": {"N": "2"}}}), False),  # exists matches a leaf value only
    ],
)
def test_given_the_history_pattern_when_records_come_then_only_inserts_with_flows_pass(record, passed):
    assert passes((HISTORY_PATTERN,), record) is passed


def test_given_prefix_anything_but_and_absence_then_they_match_as_lambda_does():
    record = _record(event={"S": "up"}, owner={"S": "user-1"})
    assert passes(({"dynamodb": {"NewImage": {"owner": {"S": [{"prefix": "user-"}]}}}},), record)
    assert not passes(({"dynamodb": {"NewImage": {"event": {"S": [{"anything-but": ["up"]}]}}}},), record)
    assert passes(({"dynamodb": {"NewImage": {"gone": [{"exists": False}]}}},), record)
    assert passes(({"eventName": ["REMOVE"]}, {"eventName": ["INSERT"]}), record)  # any of the filters
    assert passes((), record)  # no filter: every record


def test_given_the_template_then_the_flow_starter_filters_are_the_ones_the_local_cloud_applies():
    starter = load_stack().functions["FlowStarterFunction"]
    patterns = [
        json.loads(f["Pattern"]) for source in starter.stream_sources for f in source["FilterCriteria"]["Filters"]
    ]
    assert HISTORY_PATTERN in patterns
    claims = _record(packed_starts={"B": "eJw="})
    assert passes(tuple(patterns), claims) and not passes(tuple(patterns), _record(received_at={"S": "x"}))
    sample = json.loads((ROOT / "events" / "flow-starter-stream.json").read_text())["Records"][0]
    assert passes(tuple(patterns), sample)  # the sample event is what the mapping hands the flow starter
