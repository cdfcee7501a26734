"""BatchGetItem under throttling: unprocessed keys are retried with backoff and jitter, and keys still unprocessed
after the retries are an error (503), never a silent miss (an ingest key read as missing would answer 401).

DynamoDB's throttling is played through botocore's own ``after-call`` event on the shared client: the answer of
the first calls moves every key to UnprocessedKeys, as DynamoDB does under load. Nothing of ours is patched."""

from __future__ import annotations

from tests.flow_support import v4_up
from tests.support import ClientHook, new_eui


class Throttled(ClientHook):
    """The first ``times`` BatchGetItem answers process nothing (``times=None``: every answer)."""

    event = "after-call.dynamodb.BatchGetItem"

    def __init__(self, times: int | None):
        self.times, self.calls = times, 0

    def __call__(self, parsed, model, **_) -> None:
        if model.name != "BatchGetItem":
            return
        self.calls += 1
        if self.times is None or self.calls <= self.times:
            parsed["UnprocessedKeys"] = {t: {"Keys": [], "ConsistentRead": False} for t in parsed.get("Responses", {})}
            for table, items in parsed.get("Responses", {}).items():
                parsed["UnprocessedKeys"][table]["Keys"] = [
                    {k: v for k, v in i.items() if k in ("id", "key")} for i in items
                ]
            parsed["Responses"] = {t: [] for t in parsed.get("Responses", {})}


def _uplink_world(api) -> dict:
    user = api.register()
    key = api.call("POST", "/api/v1/ingest/keys", token=user["token"], json_body={"name": "cs"}).body["key"]
    eui = new_eui()
    api.call("POST", "/api/v1/devices", token=user["token"], json_body={"dev_eui": eui, "name": "d"})
    return {"key": key, "eui": eui}


def _ingest(api, w: dict):
    return api.call(
        "POST",
        "/api/v1/ingest/chirpstack",
        json_body=v4_up(w["eui"]),
        query={"event": "up"},
        headers={"x-api-key": w["key"]},
    )


def test_given_a_throttled_batch_read_when_its_keys_come_back_unprocessed_twice_then_they_are_read_again(api):
    w = _uplink_world(api)

    with Throttled(times=2) as throttled:
        reply = _ingest(api, w)

    assert reply.status == 202 and reply.body["status"] == "accepted", reply.body
    assert throttled.calls == 3  # the key and the device's claim, read on the third call
    assert reply.ddb_calls[:3] == ["BatchGetItem"] * 3


def test_given_a_batch_read_throttled_through_every_retry_then_503_and_nothing_is_written(api):
    w = _uplink_world(api)

    with Throttled(times=None) as throttled:
        reply = _ingest(api, w)

    assert reply.status == 503, reply.body  # not 401: the key was never read, it is not wrong
    assert reply.body == {"detail": reply.body["detail"]} and "throttl" in reply.body["detail"]
    assert throttled.calls == 6 and set(reply.ddb_calls) == {"BatchGetItem"}  # nothing claimed, stored or sent
