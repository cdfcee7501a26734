"""Input limits every route shares (core.api, core.limits): size, encoding, content type, JSON depth, names;
and items stored before these limits existed must still read and list without a 500."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from fleetgate.core.api import ErrorStyle, make_public_resolver
from fleetgate.core.limits import CLIPPED, MAX_BODY_BYTES, clip_depth, json_too_deep, printable_name
from tests.flow_support import v4_up
from tests.support import new_eui


def _nested(levels: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"x": value}
    return value


# ------------------------------------------------------------------ the depth check itself
@pytest.mark.parametrize(
    "text, deep",
    [
        (json.dumps(_nested(32)), False),
        (json.dumps(_nested(33)), True),
        ("[" * 33 + "]" * 33, True),
        ("[" * 32 + "]" * 32, False),
        (json.dumps({"s": "[" * 500}), False),  # brackets inside strings are not nesting
        (json.dumps({"s": 'a\\"[[[' * 100}), False),  # nor after an escaped quote
        (json.dumps([[1] * 50] * 50), False),  # many brackets, shallow
        ("[" * 100_000, True),  # unbalanced: deep all the same
    ],
)
def test_given_json_text_when_checking_depth_then_only_real_nesting_counts(text, deep):
    assert json_too_deep(text) is deep


def test_given_stored_json_deeper_than_the_limit_when_clipped_then_the_deep_part_is_replaced():
    clipped = clip_depth(_nested(300))
    depth, node = 0, clipped
    while isinstance(node, dict):
        depth, node = depth + 1, node.get("x", node.get("leaf"))
    assert depth == 32 and node == CLIPPED
    shallow = _nested(10)
    assert clip_depth(shallow) is shallow  # nothing to do: the same object back


@pytest.mark.parametrize("bad", ["a\x00b", "tab\there", "new\nline", "\u202eevil", "iso\u2066late", "del\x7f"])
def test_given_control_or_bidi_characters_when_validating_a_name_then_refused(bad):
    with pytest.raises(ValueError):
        printable_name(bad)
    assert printable_name("Kühlhaus 3 – Süd 🧊") == "Kühlhaus 3 – Süd 🧊"


# ------------------------------------------------------------------ through the routes
def test_given_deep_json_on_any_route_then_422_before_parsing_and_nothing_stored(api):
    user = api.register()
    for levels in (33, 1000, 100_000):
        body = {"dev_eui": new_eui(), "name": "deep", "metadata": _nested(levels - 1)} if levels < 1000 else None
        raw = json.dumps(body) if body else "[" * levels + "]" * levels
        reply = api.call(
            "POST", "/api/v1/devices", token=user["token"], raw=raw, headers={"content-type": "application/json"}
        )
        assert reply.status == 422, (levels, reply.body)
        assert reply.body == {
            "detail": [
                {"loc": ["body"], "msg": "The JSON body is nested deeper than 32 levels", "type": "validation_error"}
            ]
        }
    listed = api.call("GET", "/api/v1/devices", token=user["token"])
    assert listed.status == 200 and listed.body["items"] == []


def test_given_deep_json_on_a_flow_switch_value_then_422(api):
    user = api.register()
    node = {"id": "s", "type": "switch", "field": "a", "operator": "==", "value": _nested(40)}
    reply = api.call("POST", "/api/v1/flows", token=user["token"], json_body={"name": "f", "nodes": [node]})
    assert reply.status == 422


@pytest.mark.parametrize(
    "raw, ctype, status",
    [
        ("hello", "text/plain", 415),
        ("dev_eui=1", "multipart/form-data", 422),
        (b"\xff\xfe{}", "application/json", 422),
        (b"\x80\x81", "text/plain", 422),
        ('{"dev_eui": "00"', "application/json", 422),
    ],
)
def test_given_bodies_a_json_route_does_not_take_then_4xx_in_the_family_envelope(api, raw, ctype, status):
    user = api.register()
    reply = api.call("POST", "/api/v1/devices", token=user["token"], raw=raw, headers={"content-type": ctype})
    assert reply.status == status, reply.body
    assert "detail" in reply.body


def test_given_an_oversized_body_then_413(api):
    user = api.register()
    raw = json.dumps({"dev_eui": new_eui(), "name": "n", "description": "x" * MAX_BODY_BYTES})
    reply = api.call(
        "POST", "/api/v1/devices", token=user["token"], raw=raw, headers={"content-type": "application/json"}
    )
    assert (reply.status, reply.body) == (413, {"detail": "The request body is larger than 1024 KiB"})


def test_given_the_mobivisor_family_when_the_body_is_not_utf8_then_its_own_envelope(api):
    from tests.support import token_for

    admin = token_for("admin")
    reply = api.call(
        "DELETE", "/api/v1/mobivisor/devices/1", token=admin["token"], raw=b"\xff", headers={"content-type": "x/y"}
    )
    assert reply.status == 422
    assert reply.body["detail"]["error"] == "Validation Error"


def test_given_names_with_control_or_bidi_characters_then_422_on_every_kind(api):
    user = api.register()
    t = user["token"]
    cases = [
        ("/api/v1/devices", {"dev_eui": new_eui(), "name": "a\x00b"}),
        ("/api/v1/labels", {"name": "\u202egnp.exe"}),
        ("/api/v1/functions", {"name": "f\nx", "code": "function process(m) { return m }"}),
        ("/api/v1/storages", {"name": "s\u2067"}),
        ("/api/v1/integrations", {"name": "i\x1b", "type": "http", "config": {"url": "https://example.com"}}),
        ("/api/v1/flows", {"name": "fl\x07", "nodes": []}),
        ("/api/v1/ingest/keys", {"name": "k\u202a"}),
    ]
    for path, body in cases:
        reply = api.call("POST", path, token=t, json_body=body)
        assert reply.status == 422, (path, reply.body)
        assert ["body", "name"] == reply.body["detail"][0]["loc"][:2], (path, reply.body)


def test_given_an_item_stored_deep_before_the_limit_then_reads_and_lists_answer_with_it_clipped(api):
    """Poison written before the limit existed (straight through the repository, as the old code did)."""
    from fleetgate.devices import repository as devices

    user, admin = api.register(), api.register(admin=True)
    created = api.call("POST", "/api/v1/devices", token=user["token"], json_body={"dev_eui": new_eui(), "name": "d"})
    device_id = created.body["id"]
    Devices = devices._devices()
    item = Devices.get(device_id)
    item.update(actions=[Devices.metadata.set(_nested(300))])
    for token in (user["token"], admin["token"]):
        got = api.call("GET", f"/api/v1/devices/{device_id}", token=token)
        assert got.status == 200 and CLIPPED in json.dumps(got.body["metadata"])
        listed = api.call("GET", "/api/v1/devices", token=token, query={"limit": 200})
        assert listed.status == 200 and device_id in [d["id"] for d in listed.body["items"]]


def test_given_deep_uplink_objects_on_ingest_then_422_after_the_key_check(api):
    user = api.register()
    key = api.call("POST", "/api/v1/ingest/keys", token=user["token"], json_body={"name": "cs"}).body["key"]
    eui = new_eui()
    api.call("POST", "/api/v1/devices", token=user["token"], json_body={"dev_eui": eui, "name": "d"})
    body = v4_up(eui)
    body["object"] = _nested(200)
    raw = json.dumps(body)
    no_key = api.call("POST", "/api/v1/ingest/chirpstack", raw=raw, headers={"content-type": "application/json"})
    assert no_key.status == 401  # the key first: a keyless caller learns nothing about the body
    deep = api.call(
        "POST", "/api/v1/ingest/chirpstack", raw=raw, headers={"content-type": "application/json", "x-api-key": key}
    )
    assert deep.status == 422 and "nested deeper than 32" in json.dumps(deep.body)
    huge = "[" * 5000 + "]" * 5000
    assert (
        api.call(
            "POST",
            "/api/v1/ingest/chirpstack",
            raw=huge,
            headers={"content-type": "application/json", "x-api-key": key},
        ).status
        == 422
    )


@pytest.mark.parametrize(
    "event, field, value, where",
    [
        ("status", "batteryLevel", "lots", "batteryLevel"),
        ("status", "batteryLevel", 140, "batteryLevel"),
        ("status", "margin", 1.5, "margin"),
        ("status", "externalPowerSource", "yes", "externalPowerSource"),
        ("location", "latitude", "north", "location.latitude"),
        ("location", "longitude", 200, "location.longitude"),
        ("location", "accuracy", [], "location.accuracy"),
    ],
)
def test_given_status_and_location_events_with_untyped_numbers_then_422_naming_the_field(
    api, event, field, value, where
):
    user = api.register()
    key = api.call("POST", "/api/v1/ingest/keys", token=user["token"], json_body={"name": "cs"}).body["key"]
    eui = new_eui()
    api.call("POST", "/api/v1/devices", token=user["token"], json_body={"dev_eui": eui, "name": "d"})
    body = {"deviceInfo": {"devEui": eui}, "deduplicationId": new_eui()}
    if event == "status":
        body.update({"margin": 7, "batteryLevel": 80.5, field: value})
    else:
        body["location"] = {"latitude": 51.5, "longitude": -0.1, field: value}
    reply = api.call(
        "POST", "/api/v1/ingest/chirpstack", json_body=body, query={"event": event}, headers={"x-api-key": key}
    )
    assert reply.status == 422, reply.body
    assert reply.body["detail"][0]["loc"] == ["body", *where.split(".")]
    good = {"deviceInfo": {"devEui": eui}, "deduplicationId": new_eui(), "margin": 7, "batteryLevel": 80.5}
    ok = api.call(
        "POST", "/api/v1/ingest/chirpstack", json_body=good, query={"event": "status"}, headers={"x-api-key": key}
    )
    assert ok.status == 202


class Thing(BaseModel):
    name: str


@pytest.mark.parametrize("style", [ErrorStyle.MOBILE, ErrorStyle.CUSTOMER])
def test_given_the_400_families_when_a_body_is_refused_then_400_415_or_413_in_their_envelope(style):
    from localcloud.apigw import LambdaContext, http_event

    app = make_public_resolver(style)

    @app.post("/things")
    def create(payload: Thing) -> Thing:
        return payload

    def send(body: str | bytes, ctype: str) -> tuple[int, dict]:
        result = app.resolve(
            http_event("POST", "/things", headers={"content-type": ctype}, body=body), LambdaContext("t")
        )
        return result["statusCode"], json.loads(result["body"])

    for body, ctype, status in (
        ("[" * 40 + "]" * 40, "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        ("a=1", "multipart/form-data", 400),
        ("hello", "text/plain", 415),
        ('"' + "x" * MAX_BODY_BYTES + '"', "application/json", 413),
    ):
        got, payload = send(body, ctype)
        assert got == status, (body[:20], ctype, got, payload)
        if style is ErrorStyle.MOBILE:
            assert set(payload) == {"error", "message"}
        else:
            # details name a failing field: a body refused as a whole (not UTF-8, too deep, too large) has none
            assert payload["success"] is False and set(payload) <= {"success", "message", "error", "details"}
            want = {400: "VALIDATION_ERROR", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}[got]
            assert payload["error"] == want, payload
