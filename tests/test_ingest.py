"""Ingest: X-API-Key keys, POST /api/v1/ingest/chirpstack (ChirpStack v4 / v3, Helium), its Function URL."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from localcloud.apigw import http_event
from tests.flow_support import helium_up, later, queue_depth, queue_url, v3_up, v4_up
from tests.support import new_eui

INGEST = "/api/v1/ingest/chirpstack"


def _key(api, token: str, name: str = "chirpstack") -> dict:
    reply = api.call("POST", "/api/v1/ingest/keys", token=token, json_body={"name": name})
    assert reply.status == 201, reply.body
    return reply.body


def _ingest(api, key: str | None, body, *, event: str | None = "up", headers: dict | None = None):
    hdrs = dict(headers or {})
    if key is not None:
        hdrs["x-api-key"] = key
    query = {"event": event} if event else None
    if isinstance(body, (bytes, str)):
        return api.call("POST", INGEST, raw=body, query=query, headers=hdrs)
    return api.call("POST", INGEST, json_body=body, query=query, headers=hdrs)


def _steps() -> list[dict]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    out = []
    for _ in range(10):
        got = sqs.receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            break
        out += [json.loads(m["Body"]) for m in got]
    return out


@pytest.fixture
def world(api):
    user = api.register()
    token = user["token"]
    eui = new_eui()
    device = api.call(
        "POST",
        "/api/v1/devices",
        token=token,
        json_body={
            "dev_eui": eui,
            "name": "cold room",
            "expected_transmit_time": 600,
            "metadata": {"site": "warehouse"},
        },
    ).body
    label = api.call("POST", "/api/v1/labels", token=token, json_body={"name": "rooms"}).body
    api.call("POST", f"/api/v1/labels/{label['id']}/devices/{device['id']}", token=token)
    return {"token": token, "key": _key(api, token)["key"], "device": device, "eui": eui, "label": label}


def _flow(api, token: str, trigger: dict, *, enabled: bool = True) -> dict:
    reply = api.call(
        "POST",
        "/api/v1/flows",
        token=token,
        json_body={
            "name": f"flow {uuid.uuid4().hex[:6]}",
            "enabled": enabled,
            "nodes": [{"id": "t", **trigger}, {"id": "wait", "type": "delay", "seconds": 5}],
            "edges": [{"source": "t", "target": "wait"}],
        },
    )
    assert reply.status == 201, reply.body
    return reply.body


# ------------------------------------------------------------------ keys
def test_given_a_user_when_creating_an_ingest_key_then_it_is_shown_once_and_listed_by_prefix_only(api):
    user = api.register()

    created = _key(api, user["token"], "ChirpStack EU")
    listed = api.call("GET", "/api/v1/ingest/keys", token=user["token"])

    assert created["key"].startswith(created["prefix"]) and len(created["key"]) > len(created["prefix"]) + 30
    assert listed.status == 200 and listed.body["next_cursor"] is None
    [item] = listed.body["items"]
    assert item["id"] == created["id"] and item["name"] == "ChirpStack EU" and item["prefix"] == created["prefix"]
    assert "key" not in item and "key_hash" not in item
    assert created["key"] not in json.dumps(listed.body)


def test_given_an_ingest_key_when_it_is_stored_then_only_a_keyed_hash_of_its_secret_is_kept(api):
    from fleetgate.ingest import repository

    user = api.register()
    created = _key(api, user["token"])

    _, stored_hash = repository.get_key(created["id"])

    secret = created["key"][41:]  # fgk_<36-character id>_<secret>
    assert secret not in stored_hash and created["key"] not in stored_hash
    assert len(stored_hash) == 64 and all(c in "0123456789abcdef" for c in stored_hash)


def test_given_two_users_when_listing_and_revoking_keys_then_each_sees_only_their_own_and_admins_see_all(api):
    alice, bob, admin = api.register(), api.register(), api.register(admin=True)
    a, b = _key(api, alice["token"]), _key(api, bob["token"])

    assert [k["id"] for k in api.call("GET", "/api/v1/ingest/keys", token=bob["token"]).body["items"]] == [b["id"]]
    assert {a["id"], b["id"]} <= {
        k["id"] for k in api.call("GET", "/api/v1/ingest/keys", token=admin["token"]).body["items"]
    }
    assert api.call("DELETE", f"/api/v1/ingest/keys/{a['id']}", token=bob["token"]).status == 404
    assert api.call("DELETE", f"/api/v1/ingest/keys/{a['id']}", token=alice["token"]).status == 204
    assert api.call("DELETE", f"/api/v1/ingest/keys/{a['id']}", token=alice["token"]).status == 404


def test_given_a_revoked_key_when_ingesting_then_401_once_the_instance_cache_has_expired(api, world, monkeypatch):
    from fleetgate.ingest.service import CACHE_SECONDS

    key = _key(api, world["token"], "short-lived")
    assert _ingest(api, key["key"], v4_up(world["eui"])).status == 202

    api.call("DELETE", f"/api/v1/ingest/keys/{key['id']}", token=world["token"])
    warm = _ingest(api, key["key"], v4_up(world["eui"]))  # an instance that read the key moments ago
    later(monkeypatch, CACHE_SECONDS)
    reply = _ingest(api, key["key"], v4_up(world["eui"]))

    assert warm.status == 202 and reply.status == 401


def test_given_no_bearer_token_when_managing_keys_then_401(api):
    assert api.call("GET", "/api/v1/ingest/keys").status == 401
    assert api.call("POST", "/api/v1/ingest/keys", json_body={"name": "x"}).status == 401


# ------------------------------------------------------------------ 401 / 415 / 422
@pytest.mark.parametrize("case", ["missing", "malformed", "wrong secret", "unknown id"])
def test_given_a_missing_or_wrong_key_when_ingesting_then_401_and_nothing_is_stored(api, world, case):
    good = world["key"]
    key = {
        "missing": None,
        "malformed": "not-a-key",
        "wrong secret": good[:-6] + "AAAAAA",
        "unknown id": f"fgk_{uuid.uuid4()}_{good[41:]}",
    }[case]
    body = v4_up(world["eui"])

    reply = _ingest(api, key, body)

    assert reply.status == 401, reply.body
    assert reply.headers["www-authenticate"].startswith("ApiKey")
    assert "X-API-Key" in reply.body["detail"]
    assert set(reply.ddb_calls) <= {"GetItem", "BatchGetItem"}  # read the key at most (one call), wrote nothing
    assert len(reply.ddb_calls) <= 1
    device = api.call("GET", f"/api/v1/devices/{world['device']['id']}", token=world["token"]).body
    assert device["last_seen"] is None and device["status"] == "never_seen"
    assert api.call("GET", f"/api/v1/devices/{world['device']['id']}/history", token=world["token"]).body["items"] == []
    assert queue_depth() == 0
    assert _ingest(api, good, body).body["status"] == "accepted"  # its deduplication id was not claimed either


@pytest.mark.parametrize("content_type", ["application/octet-stream", "application/x-protobuf", None])
def test_given_a_protobuf_body_when_ingesting_then_415_saying_to_choose_json(api, world, content_type):
    protobuf = b"\n$" + uuid.uuid4().bytes + b"\x12\x0c\x08\xb0\xd3\xf0\xb4\x06\x10\x80\xc2\xd7/\x1a\x8a\x01"
    headers = {"content-type": content_type} if content_type else {}

    reply = _ingest(api, world["key"], protobuf, headers=headers)

    assert reply.status == 415, reply.body
    assert "JSON" in reply.body["detail"] and "ChirpStack" in reply.body["detail"]


def test_given_a_protobuf_body_and_a_wrong_key_when_ingesting_then_401_first(api, world):
    reply = _ingest(
        api, world["key"][:-4] + "zzzz", b"\x0a\x24\x00\x01\x02", headers={"content-type": "application/octet-stream"}
    )

    assert reply.status == 401


@pytest.mark.parametrize(
    "case,loc",
    [
        ("unknown event", ["query", "event"]),
        ("not json", ["body"]),
        ("array", ["body"]),
        ("unrecognised shape", ["body"]),
        ("bad v4 eui", ["body", "deviceInfo", "devEui"]),
        ("bad helium eui", ["body", "dev_eui"]),
        ("bad v3 objectJSON", ["body", "objectJSON"]),
    ],
)
def test_given_an_unreadable_body_or_event_when_ingesting_then_422_naming_the_field(api, world, case, loc):
    eui = world["eui"]
    body, event, headers = {
        "unknown event": (v4_up(eui), "downlink", None),
        "not json": ('{"deviceInfo": ', "up", {"content-type": "application/json"}),
        "array": ([v4_up(eui)], "up", None),
        "unrecognised shape": ({"hello": "world"}, "up", None),
        "bad v4 eui": ({**v4_up(eui), "deviceInfo": {"devEui": "zz"}}, "up", None),
        "bad helium eui": ({**helium_up(eui), "dev_eui": "123"}, "up", None),
        "bad v3 objectJSON": ({**v3_up(eui), "objectJSON": "{nope"}, "up", None),
    }[case]

    reply = _ingest(api, world["key"], body, event=event, headers=headers)

    assert reply.status == 422, reply.body
    assert reply.body["detail"][0]["loc"] == loc, reply.body
    assert queue_depth() == 0


# ------------------------------------------------------------------ up
def test_given_a_chirpstack_v4_uplink_then_history_presence_and_one_step_per_matching_enabled_flow(api, world):
    t, device, label = world["token"], world["device"], world["label"]
    by_device = _flow(api, t, {"type": "device", "device_id": device["id"]})
    by_label = _flow(api, t, {"type": "label", "label_id": label["id"]})
    _flow(api, t, {"type": "device", "device_id": device["id"]}, enabled=False)
    other = api.call("POST", "/api/v1/devices", token=t, json_body={"dev_eui": new_eui(), "name": "other"}).body
    _flow(api, t, {"type": "device", "device_id": other["id"]})
    body = v4_up(world["eui"], temperature=4.5)

    reply = _ingest(api, world["key"], body)

    assert reply.status == 202, reply.body
    assert reply.body["status"] == "accepted" and reply.body["format"] == "chirpstack_v4"
    assert reply.body["device_id"] == device["id"] and reply.body["flows_triggered"] == 2
    [entry] = api.call("GET", f"/api/v1/devices/{device['id']}/history", token=t).body["items"]
    assert entry["id"] == reply.body["history_id"] and entry["event"] == "up"
    data = entry["data"]
    assert data["data"] == {"temperature": 4.5, "humidity": 48, "battery": 92}
    assert (data["f_port"], data["f_cnt"], data["rssi"], data["snr"], data["gateway_count"]) == (85, 42, -84, 9.25, 2)
    assert data["payload_base64"] == body["data"] and data["deduplication_id"] == body["deduplicationId"]
    fetched = api.call("GET", f"/api/v1/devices/{device['id']}", token=t).body
    assert fetched["status"] == "online" and fetched["last_seen"] == reply.body["received_at"]
    steps = _steps()
    assert sorted(s["flow_id"] for s in steps) == sorted([by_device["id"], by_label["id"]])
    for step in steps:
        assert step["node_id"] == "$start" and step["attempt"] == 1
        assert step["message"]["data"] == {"temperature": 4.5, "humidity": 48, "battery": 92}
        assert step["message"]["device_id"] == device["id"] and step["message"]["metadata"] == {"site": "warehouse"}
        assert step["start"]["event"] == "up" and step["start"]["trigger_nodes"] == ["t"]


def test_given_more_matching_flows_when_ingesting_then_dynamodb_calls_stay_the_same_and_sqs_gets_batches(
    api, world, monkeypatch
):
    from fleetgate.engine import queues

    t = world["token"]
    sqs_calls: list[str] = []
    queues.sqs().meta.events.register("before-call.sqs", lambda model, **_: sqs_calls.append(model.name))
    _flow(api, t, {"type": "device", "device_id": world["device"]["id"]})
    one = _ingest(api, world["key"], v4_up(world["eui"]))
    first_sqs = list(sqs_calls)
    for _ in range(11):
        _flow(api, t, {"type": "label", "label_id": world["label"]["id"]})
    sqs_calls.clear()
    later(monkeypatch)  # a cold instance, as for the first uplink: nothing remembered

    twelve = _ingest(api, world["key"], v4_up(world["eui"]))

    assert (one.body["flows_triggered"], twelve.body["flows_triggered"]) == (1, 12)
    assert one.ddb_calls == [
        "BatchGetItem",  # the key and the dev_eui claim
        "GetItem",  # the device
        "Query",  # the device's labels
        "Query",
        "Query",  # the trigger index: the device, its label
        # the device history entry, keyed by the uplink's own time and deduplicationId: the claim (conditional),
        # with its flow starts (the outbox)
        "PutItem",
        "UpdateItem",  # last_seen, online, offline due time: never seen → online
    ]
    # the same calls for twelve flows, less the presence write: online already, last_seen within the bound
    assert twelve.ddb_calls == one.ddb_calls[:-1]
    # ingest itself calls no SQS: the flow starter sends the claim's starts from its stream, 10 per batch
    assert first_sqs == ["SendMessageBatch"] and sqs_calls == ["SendMessageBatch", "SendMessageBatch"]
    assert len(_steps()) == 13


def test_given_the_same_uplink_three_times_then_it_is_processed_once_and_copies_are_answered_as_duplicates(api, world):
    _flow(api, world["token"], {"type": "device", "device_id": world["device"]["id"]})
    body = v4_up(world["eui"])

    replies = [_ingest(api, world["key"], body) for _ in range(3)]

    assert [r.status for r in replies] == [202, 202, 202]
    assert [r.body["status"] for r in replies] == ["accepted", "duplicate", "duplicate"]
    assert "not processed again" in replies[1].body["reason"]
    # a warm instance knows the key, the dev_eui's device and its flows: the device, then the claim refused
    assert replies[1].ddb_calls == ["GetItem", "PutItem"]
    history = api.call("GET", f"/api/v1/devices/{world['device']['id']}/history", token=world["token"]).body["items"]
    assert len(history) == 1 and len(_steps()) == 1


def test_given_an_unknown_device_when_ingesting_then_202_ignored_with_the_reason_and_recorded(api, world):
    stranger = api.register()
    theirs = api.call(
        "POST", "/api/v1/devices", token=stranger["token"], json_body={"dev_eui": new_eui(), "name": "not yours"}
    ).body
    unknown = new_eui()

    missing = _ingest(api, world["key"], v4_up(unknown))
    foreign = _ingest(api, world["key"], v4_up(theirs["dev_eui"]))

    for reply, eui in ((missing, unknown), (foreign, theirs["dev_eui"])):
        assert reply.status == 202 and reply.body["status"] == "ignored" and reply.body["device_id"] is None
        assert "unknown device" in reply.body["reason"] and reply.body["dev_eui"] == eui
    recorded = api.call("GET", "/api/v1/devices/history", token=world["token"]).body["items"]
    assert {(e["event"], e["data"]["dev_eui"]) for e in recorded} == {
        ("unknown_device", unknown),
        ("unknown_device", theirs["dev_eui"]),
    }
    assert api.call("GET", f"/api/v1/devices/{theirs['id']}", token=stranger["token"]).body["last_seen"] is None
    assert queue_depth() == 0


def test_given_a_device_in_maintenance_when_an_uplink_arrives_then_last_seen_moves_and_the_status_stays(api, world):
    path = f"/api/v1/devices/{world['device']['id']}"
    api.call("PUT", path, token=world["token"], json_body={"status": "maintenance"})

    _ingest(api, world["key"], v4_up(world["eui"]))

    device = api.call("GET", path, token=world["token"]).body
    assert device["status"] == "maintenance" and device["last_seen"] is not None


# ------------------------------------------------------------------ other events
def _event(kind: str, eui: str) -> dict:
    info = {
        "deviceInfo": {"devEui": eui, "deviceName": "cold room", "applicationId": "a1"},
        "time": "2026-11-22T08:20:00Z",
    }
    return {
        "join": {**info, "deduplicationId": str(uuid.uuid4()), "devAddr": "01ab23cd"},
        "status": {
            **info,
            "deduplicationId": str(uuid.uuid4()),
            "margin": 7,
            "externalPowerSource": False,
            "batteryLevel": 87.5,
        },
        "location": {
            **info,
            "deduplicationId": str(uuid.uuid4()),
            "location": {
                "latitude": 52.3702,
                "longitude": 4.8952,
                "altitude": 3.5,
                "source": "GEO_RESOLVER_TDOA",
                "accuracy": 25,
            },
        },
        "log": {
            **info,
            "level": "ERROR",
            "code": "UPLINK_CODEC",
            "description": "js error: x is undefined",
            "context": {"deduplication_id": str(uuid.uuid4())},
        },
        "ack": {
            **info,
            "deduplicationId": str(uuid.uuid4()),
            "queueItemId": str(uuid.uuid4()),
            "acknowledged": True,
            "fCntDown": 12,
        },
        "txack": {
            **info,
            "downlinkId": 31337,
            "queueItemId": str(uuid.uuid4()),
            "fCntDown": 12,
            "gatewayId": "0016c001f153a14c",
        },
    }[kind]


def test_given_a_join_then_history_only_no_presence_change_and_no_flow(api, world):
    _flow(api, world["token"], {"type": "device", "device_id": world["device"]["id"]})

    reply = _ingest(api, world["key"], _event("join", world["eui"]), event="join")

    assert reply.status == 202 and reply.body["status"] == "accepted" and reply.body["flows_triggered"] == 0
    device = api.call("GET", f"/api/v1/devices/{world['device']['id']}", token=world["token"]).body
    assert device["last_seen"] is None and device["status"] == "never_seen"
    [entry] = api.call("GET", f"/api/v1/devices/{world['device']['id']}/history", token=world["token"]).body["items"]
    assert entry["event"] == "join" and entry["data"]["dev_addr"] == "01ab23cd"
    assert queue_depth() == 0


def test_given_a_status_event_then_the_battery_fields_are_stored_on_the_device(api, world):
    reply = _ingest(api, world["key"], _event("status", world["eui"]), event="status")

    battery = api.call("GET", f"/api/v1/devices/{world['device']['id']}", token=world["token"]).body["battery"]
    assert reply.body["status"] == "accepted"
    assert battery == {
        "battery_level": 87.5,
        "battery_level_unavailable": False,
        "external_power_source": False,
        "margin": 7,
        "updated_at": reply.body["received_at"],
    }


def test_given_a_location_event_then_the_location_is_stored_on_the_device(api, world):
    reply = _ingest(api, world["key"], _event("location", world["eui"]), event="location")

    location = api.call("GET", f"/api/v1/devices/{world['device']['id']}", token=world["token"]).body["location"]
    assert location == {
        "latitude": 52.3702,
        "longitude": 4.8952,
        "altitude": 3.5,
        "source": "GEO_RESOLVER_TDOA",
        "accuracy": 25,
        "updated_at": reply.body["received_at"],
    }


@pytest.mark.parametrize(
    "kind,field,value", [("log", "code", "UPLINK_CODEC"), ("ack", "acknowledged", True), ("txack", "f_cnt_down", 12)]
)
def test_given_log_ack_and_txack_events_then_they_are_recorded_in_history(api, world, kind, field, value):
    body = _event(kind, world["eui"])

    first = _ingest(api, world["key"], body, event=kind)
    again = _ingest(api, world["key"], body, event=kind)

    assert (first.body["status"], again.body["status"]) == ("accepted", "duplicate")
    [entry] = api.call("GET", f"/api/v1/devices/{world['device']['id']}/history", token=world["token"]).body["items"]
    assert entry["event"] == kind and entry["data"][field] == value


@pytest.mark.parametrize("skew", [timedelta(days=2), -timedelta(minutes=10)], ids=["stale", "ahead"])
def test_given_a_sender_clock_far_off_when_ingesting_then_a_claim_dedups_and_history_keeps_arrival_order(
    api, world, skew
):
    stamped = v4_up(world["eui"])
    _ingest(api, world["key"], stamped)
    off = {**v4_up(world["eui"], temperature=3.0), "time": (datetime.now(UTC) - skew).isoformat()}

    first, copy = _ingest(api, world["key"], off), _ingest(api, world["key"], off)

    assert (first.body["status"], copy.body["status"]) == ("accepted", "duplicate")
    assert first.ddb_calls.count("PutItem") == 2  # the claim, then the entry: its time does not key the history
    history = api.call("GET", f"/api/v1/devices/{world['device']['id']}/history", token=world["token"]).body["items"]
    assert len(history) == 2 and history[0]["id"] == first.body["history_id"]  # the newest arrival first
    assert history[0]["data"]["data"]["temperature"] == 3.0


# ------------------------------------------------------------------ v3 and Helium
def test_given_a_chirpstack_v3_uplink_then_it_is_read_like_v4(api, world):
    _flow(api, world["token"], {"type": "device", "device_id": world["device"]["id"]})
    body = v3_up(world["eui"], temperature=19.0)

    reply = _ingest(api, world["key"], body)

    assert reply.body["status"] == "accepted" and reply.body["format"] == "chirpstack_v3"
    # v3 stamps no time of its own: a deduplication claim carries the flow starts, then the history entry
    assert reply.ddb_calls.count("PutItem") == 2 and reply.body["flows_triggered"] == 1
    assert len(_steps()) == 1  # the claims table's stream started the flow
    [entry] = api.call("GET", f"/api/v1/devices/{world['device']['id']}/history", token=world["token"]).body["items"]
    assert entry["data"]["data"] == {"temperature": 19.0, "humidity": 51}
    assert (entry["data"]["rssi"], entry["data"]["snr"], entry["data"]["gateway_count"]) == (-101, 5.5, 1)
    assert _ingest(api, world["key"], body).body["status"] == "duplicate"  # same devEUI, fCnt, port and payload


def test_given_a_helium_uplink_then_it_is_read_like_v4(api, world):
    body = helium_up(world["eui"], temperature=18.0)

    reply = _ingest(api, world["key"], body, event=None)  # Helium URLs often have no ?event=: up is the default

    assert reply.body["status"] == "accepted" and reply.body["format"] == "helium"
    [entry] = api.call("GET", f"/api/v1/devices/{world['device']['id']}/history", token=world["token"]).body["items"]
    assert entry["data"]["data"] == {"temperature": 18.0, "humidity": 60}
    assert (entry["data"]["f_port"], entry["data"]["f_cnt"], entry["data"]["rssi"]) == (1, 3, -110)
    assert _ingest(api, world["key"], body).body["status"] == "duplicate"  # same uuid


# ------------------------------------------------------------------ the Function URL
def test_given_a_helium_join_posted_to_the_uplink_url_then_it_is_a_join_and_starts_no_flow(api, world):
    _flow(api, world["token"], {"type": "device", "device_id": world["device"]["id"]})
    body = {**helium_up(world["eui"]), "type": "join"}
    body.pop("decoded")

    reply = _ingest(api, world["key"], body)  # ?event=up, as the console's HTTP integration sends everything

    assert reply.status == 202 and reply.body["event"] == "join" and reply.body["flows_triggered"] == 0
    assert queue_depth() == 0
    device = api.call("GET", f"/api/v1/devices/{world['device']['id']}", token=world["token"]).body
    assert device["last_seen"] is None


def test_given_the_function_url_event_when_invoking_the_ingest_function_then_it_answers_like_the_api(api, world):
    body = json.dumps(v4_up(world["eui"]))
    event = http_event(
        "POST",
        f"{INGEST}?event=up",
        headers={"content-type": "application/json", "x-api-key": world["key"]},
        body=body,
        api_id="ingestfunction",
    )  # routeKey $default, as a Function URL sends

    result = api.functions.invoke("IngestFunction", event)

    assert event["routeKey"] == "$default"
    assert result["statusCode"] == 202
    assert json.loads(result["body"])["status"] == "accepted"


def test_given_a_base64_encoded_json_body_when_ingesting_then_it_is_decoded(api, world):
    body = json.dumps(v4_up(world["eui"])).encode()
    event = http_event(
        "POST",
        f"{INGEST}?event=up",
        headers={"content-type": "text/plain; charset=utf-8", "x-api-key": world["key"]},
        body=body,
    )
    event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True

    result = api.functions.invoke("IngestFunction", event)

    assert result["statusCode"] == 202 and json.loads(result["body"])["status"] == "accepted"
