"""The flow engine's meter node, end to end at handler level: a ChirpStack uplink to ingest, the flow starter,
the flow worker (real SQS events through the local cloud's poller), estates' billing: a reading recorded and the
unit's wallet debited once, whatever is resent or redelivered."""

from __future__ import annotations

import boto3
import pytest

from tests.estates_support import owner_with_meter
from tests.flow_support import queue_url, run_worker, v4_up
from tests.support import new_eui

INGEST = "/api/v1/ingest/chirpstack"


def _setup(api, *, linked: bool = True, field: str | None = None) -> dict:
    world = owner_with_meter(api)
    eui = new_eui()
    if linked:
        world["meter"] = world["staff"].meter(world["unit"]["id"], dev_eui=eui)
    world["staff"].tariff("estates", world["estate"]["id"], "electricity", {"flat_rate": 2})
    t = api.register()["token"]
    device = api.call("POST", "/api/v1/devices", token=t, json_body={"dev_eui": eui, "name": "kWh meter"}).body
    key = api.call("POST", "/api/v1/ingest/keys", token=t, json_body={"name": "cs"}).body["key"]
    meter_node = {"id": "bill", "type": "meter", **({"field": field} if field else {})}
    flow = api.call(
        "POST",
        "/api/v1/flows",
        token=t,
        json_body={
            "name": "bill the meter",
            "nodes": [{"id": "dev", "type": "device", "device_id": device["id"]}, meter_node],
            "edges": [{"source": "dev", "target": "bill"}],
        },
    )
    assert flow.status == 201, flow.body
    return {**world, "api": api, "t": t, "eui": eui, "key": key, "flow": flow.body}


def _uplink(w, obj: dict, dedup: str | None = None) -> dict:
    body = v4_up(w["eui"], dedup=dedup)
    body["object"] = obj
    reply = w["api"].call("POST", INGEST, json_body=body, query={"event": "up"}, headers={"x-api-key": w["key"]})
    assert reply.status == 202, reply.body
    return reply.body


def _runs(w) -> list[dict]:
    return w["api"].call("GET", f"/api/v1/flows/{w['flow']['id']}/history", token=w["t"]).body["items"]


def _debits(w) -> list[float]:
    path = f"/api/mobile/units/{w['unit']['id']}/transactions"
    return [t["amount"] for t in w["resident"].get(path, days=3650)["transactions"]]


def _take_messages() -> list[str]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    got = sqs.receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    for m in got:
        sqs.delete_message(QueueUrl=queue_url(), ReceiptHandle=m["ReceiptHandle"])
    return [m["Body"] for m in got]


def test_given_a_meter_node_when_uplinks_arrive_resent_and_redelivered_then_the_wallet_is_debited_once(api):
    w = _setup(api)
    _uplink(w, {"reading": 1000})  # the meter's first reading: its baseline
    run_worker(api)
    second = _uplink(w, {"reading": 1012.5}, dedup="uplink-2")
    [message] = _take_messages()  # the run of the second uplink, kept to deliver it again below

    resent = _uplink(w, {"reading": 1012.5}, dedup="uplink-2")  # ChirpStack sends it again
    sqs = boto3.client("sqs", region_name="us-east-1")
    for _ in range(3):  # SQS delivers the same message three times
        sqs.send_message(QueueUrl=queue_url(), MessageBody=message)
    run_worker(api)

    assert second["status"] == "accepted" and resent["status"] == "duplicate"
    assert _debits(w) == [25.0]  # 12.5 kWh at 2 per kWh, once
    runs = sorted(_runs(w), key=lambda r: r["started_at"])
    assert [r["status"] for r in runs] == ["success", "success"]
    [first_meter, second_meter] = [r["steps"][1] for r in runs]
    assert (first_meter["type"], first_meter["output"]["status"]) == ("meter", "baseline")
    assert second_meter["output"]["status"] == "charged" and second_meter["output"]["cost"] == 25.0
    assert second_meter["output"]["duplicate"] is False
    readings = w["resident"].get(f"/api/mobile/meters/{w['meter']['id']}/readings", days=3650)["readings"]
    assert sorted(r["consumption"] for r in readings) == [0.0, 12.5]


def test_given_no_number_or_no_linked_meter_then_the_meter_node_fails_with_a_clear_error(api):
    several = _setup(api)
    _uplink(several, {"temperature": 21.5, "humidity": 48})  # two numbers, no "reading": which one?
    unlinked = _setup(api, linked=False, field="data.kwh")
    _uplink(unlinked, {"kwh": 3.5})
    run_worker(api)

    [run] = _runs(several)
    assert run["status"] == "error" and run["steps"][1]["status"] == "error"
    assert run["steps"][1]["error"].startswith("meter: The reading must be a number")
    [run] = _runs(unlinked)
    assert run["status"] == "error" and "No meter is linked to device" in run["steps"][1]["error"]
    assert _debits(several) == [] and _debits(unlinked) == []


@pytest.mark.parametrize("field", ["data.energy.total", "object.energy.total"])  # ChirpStack's name works too
def test_given_a_meter_node_with_a_field_path_then_the_reading_is_taken_from_there(api, field):
    w = _setup(api, field=field)
    _uplink(w, {"energy": {"total": 40}, "voltage": 230})
    _uplink(w, {"energy": {"total": 42}, "voltage": 231})
    run_worker(api)

    assert _debits(w) == [4.0]
