"""Device routes (device-manager Device Management), through real API Gateway v2 events."""

from datetime import UTC

import pytest

from tests.support import new_eui


def _device(api, token, **overrides):
    body = {"dev_eui": new_eui(), "name": "Cold room sensor", **overrides}
    reply = api.call("POST", "/api/v1/devices", token=token, json_body=body)
    assert reply.status == 201, reply.body
    return reply.body


def test_given_valid_device_when_creating_then_201_with_normalised_eui_and_defaults(api):
    user = api.register()
    eui = new_eui().upper()
    spaced = ":".join(eui[i : i + 2] for i in range(0, 16, 2))
    reply = api.call(
        "POST",
        "/api/v1/devices",
        token=user["token"],
        json_body={
            "dev_eui": spaced,
            "name": "Freezer",
            "expected_transmit_time": 900,
            "metadata": {"site": "DC-1", "t": 1.5},
        },
    )
    assert reply.status == 201
    device = reply.body
    assert device["dev_eui"] == eui.lower()
    assert (device["status"], device["last_seen"], device["description"]) == ("never_seen", None, "")
    assert device["metadata"] == {"site": "DC-1", "t": 1.5}
    fetched = api.call("GET", f"/api/v1/devices/{device['id']}", token=user["token"])
    assert (fetched.status, fetched.body) == (200, device)


def test_given_existing_eui_in_any_case_when_creating_then_409_even_for_another_user(api):
    alice, bob = api.register(), api.register()
    device = _device(api, alice["token"])
    reply = api.call(
        "POST", "/api/v1/devices", token=bob["token"], json_body={"dev_eui": device["dev_eui"].upper(), "name": "dup"}
    )
    assert reply.status == 409
    assert device["dev_eui"] in reply.body["detail"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"dev_eui": "12345", "name": "x"}, "dev_eui"),
        ({"dev_eui": "zz" * 8, "name": "x"}, "dev_eui"),
        ({"dev_eui": "a1" * 8, "name": ""}, "name"),
        ({"dev_eui": "a1" * 8, "name": "x", "status": "exploded"}, "status"),
        ({"dev_eui": "a1" * 8, "name": "x", "expected_transmit_time": -5}, "expected_transmit_time"),
        ({"dev_eui": "a1" * 8, "name": "x", "metadata": "not-a-dict"}, "metadata"),
        ({"dev_eui": "a1" * 8, "name": "x", "owner_id": "someone-else"}, "owner_id"),
        ({"name": "x"}, "dev_eui"),
    ],
)
def test_given_invalid_device_when_creating_then_422_naming_the_field(api, body, field):
    user = api.register()
    reply = api.call("POST", "/api/v1/devices", token=user["token"], json_body=body)
    assert reply.status == 422, reply.body
    assert ["body", field] in [e["loc"][:2] for e in reply.body["detail"]]
    assert api.call("GET", "/api/v1/devices", token=user["token"]).body["items"] == []  # nothing stored


def test_given_device_when_updating_then_only_given_fields_change(api):
    user = api.register()
    device = _device(api, user["token"], description="keep me", metadata={"a": 1})
    reply = api.call(
        "PUT",
        f"/api/v1/devices/{device['id']}",
        token=user["token"],
        json_body={"name": "Renamed", "status": "maintenance"},
    )
    assert reply.status == 200, reply.body
    assert (reply.body["name"], reply.body["status"], reply.body["description"]) == (
        "Renamed",
        "maintenance",
        "keep me",
    )
    assert reply.body["updated_at"] >= device["updated_at"]
    assert api.call("GET", f"/api/v1/devices/{device['id']}", token=user["token"]).body == reply.body


def test_given_device_when_changing_eui_then_old_eui_is_free_and_new_one_is_taken(api):
    user = api.register()
    first, second = _device(api, user["token"]), _device(api, user["token"])
    moved = api.call("PUT", f"/api/v1/devices/{first['id']}", token=user["token"], json_body={"dev_eui": "AB" * 8})
    assert moved.status == 200 and moved.body["dev_eui"] == "ab" * 8
    clash = api.call("PUT", f"/api/v1/devices/{second['id']}", token=user["token"], json_body={"dev_eui": "ab" * 8})
    assert clash.status == 409
    reuse = api.call(
        "POST",
        "/api/v1/devices",
        token=user["token"],
        json_body={"dev_eui": first["dev_eui"], "name": "takes the freed eui"},
    )
    assert reuse.status == 201


def test_given_null_for_required_field_when_updating_then_422(api):
    user = api.register()
    device = _device(api, user["token"])
    reply = api.call("PUT", f"/api/v1/devices/{device['id']}", token=user["token"], json_body={"name": None})
    assert reply.status == 422
    assert reply.body["detail"][0]["loc"] == ["body", "name"]


def test_given_device_when_deleting_then_204_and_gone_and_eui_reusable(api):
    user = api.register()
    device = _device(api, user["token"])
    assert api.call("DELETE", f"/api/v1/devices/{device['id']}", token=user["token"]).status == 204
    gone = api.call("GET", f"/api/v1/devices/{device['id']}", token=user["token"])
    assert (gone.status, gone.body) == (404, {"detail": "Device not found"})
    assert api.call("DELETE", f"/api/v1/devices/{device['id']}", token=user["token"]).status == 404
    assert (
        api.call(
            "POST", "/api/v1/devices", token=user["token"], json_body={"dev_eui": device["dev_eui"], "name": "again"}
        ).status
        == 201
    )


def test_given_another_users_device_then_every_route_answers_404_like_a_missing_one(api):
    alice, bob = api.register(), api.register()
    device = _device(api, alice["token"])
    path = f"/api/v1/devices/{device['id']}"
    for method, suffix, body in (
        ("GET", "", None),
        ("PUT", "", {"name": "x"}),
        ("DELETE", "", None),
        ("GET", "/labels", None),
        ("PUT", "/labels", {"label_ids": []}),
        ("GET", "/history", None),
    ):
        reply = api.call(method, path + suffix, token=bob["token"], json_body=body)
        assert (reply.status, reply.body) == (404, {"detail": "Device not found"}), (method, suffix)
    assert api.call("GET", "/api/v1/devices", token=bob["token"]).body["items"] == []
    assert api.call("GET", path, token=alice["token"]).body["name"] == device["name"]  # untouched


def test_given_admin_then_sees_and_changes_every_users_devices(api):
    alice, admin = api.register(), api.register(admin=True)
    device = _device(api, alice["token"])
    listed = api.call("GET", "/api/v1/devices", token=admin["token"], query={"limit": 200})
    assert device["id"] in [d["id"] for d in listed.body["items"]]
    assert listed.ddb_calls == ["Query", "BatchGetItem"]
    renamed = api.call("PUT", f"/api/v1/devices/{device['id']}", token=admin["token"], json_body={"name": "by admin"})
    assert renamed.status == 200 and renamed.body["owner_id"] == device["owner_id"]


def test_given_many_devices_when_paging_then_every_device_once_newest_first(api):
    user = api.register()
    created = [_device(api, user["token"], name=f"d{i}")["id"] for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        reply = api.call(
            "GET", "/api/v1/devices", token=user["token"], query={"limit": 3, **({"cursor": cursor} if cursor else {})}
        )
        assert reply.status == 200
        seen += [d["id"] for d in reply.body["items"]]
        cursor, pages = reply.body["next_cursor"], pages + 1
        if not cursor:
            break
    assert seen == list(reversed(created)) and pages == 3


def test_given_forged_or_foreign_cursor_when_listing_then_422_not_500(api):
    alice, bob = api.register(), api.register()
    for _ in range(2):
        _device(api, alice["token"])
    cursor = api.call("GET", "/api/v1/devices", token=alice["token"], query={"limit": 1}).body["next_cursor"]
    assert cursor
    for bad, who in ((cursor[:-2] + "AA", alice), ("bm90LWEtY3Vyc29y", alice), (cursor, bob), ("x.y.z", alice)):
        reply = api.call("GET", "/api/v1/devices", token=who["token"], query={"cursor": bad})
        assert reply.status == 422, (bad, reply.body)
        assert reply.body["detail"][0]["loc"] == ["query", "cursor"]
    for limit in (0, 201, "ten"):
        assert api.call("GET", "/api/v1/devices", token=alice["token"], query={"limit": limit}).status == 422


def test_given_device_without_uplinks_when_reading_history_then_empty_pages(api):
    user = api.register()
    device = _device(api, user["token"])
    one = api.call("GET", f"/api/v1/devices/{device['id']}/history", token=user["token"])
    everything = api.call("GET", "/api/v1/devices/history", token=user["token"])
    assert one.body == everything.body == {"items": [], "next_cursor": None}


def test_given_stored_history_records_then_history_routes_return_them_newest_first(api):
    from datetime import datetime, timedelta

    from fleetgate.core.ids import iso, new_id
    from fleetgate.devices import repository
    from fleetgate.devices.schemas import DeviceHistoryEntry

    alice, bob, admin = api.register(), api.register(), api.register(admin=True)
    mine, theirs = _device(api, alice["token"]), _device(api, bob["token"])
    start = datetime.now(UTC) - timedelta(minutes=5)
    for i, device in enumerate([mine, mine, theirs]):
        repository.add_history(
            DeviceHistoryEntry(
                id=new_id(),
                device_id=device["id"],
                event="up",
                received_at=iso(start + timedelta(seconds=i)),
                data={"f_cnt": i},
            ),
            owner_id=device["owner_id"],
        )
    own = api.call("GET", f"/api/v1/devices/{mine['id']}/history", token=alice["token"])
    assert [e["data"]["f_cnt"] for e in own.body["items"]] == [1, 0]
    alice_all = api.call("GET", "/api/v1/devices/history", token=alice["token"])
    assert [e["data"]["f_cnt"] for e in alice_all.body["items"]] == [1, 0]  # bob's record is not hers
    admin_all = api.call("GET", "/api/v1/devices/history", token=admin["token"])
    assert [e["data"]["f_cnt"] for e in admin_all.body["items"]] == [2, 1, 0]  # everyone's, newest first
    bob_sees_alice = api.call("GET", f"/api/v1/devices/{mine['id']}/history", token=bob["token"])
    assert bob_sees_alice.status == 404


def test_given_unknown_route_then_404_in_api_gateway_shape(api):
    user = api.register()
    reply = api.call("GET", "/api/v1/nothing-here", token=user["token"])
    assert reply.status == 404


def test_given_sparse_history_when_admin_pages_everything_then_each_request_is_bounded_and_nothing_is_skipped(api):
    from datetime import datetime, timedelta

    from fleetgate.core.ids import iso, new_id
    from fleetgate.devices import repository
    from fleetgate.devices.schemas import DeviceHistoryEntry

    user, admin = api.register(), api.register(admin=True)
    device = api.call(
        "POST", "/api/v1/devices", token=user["token"], json_body={"dev_eui": new_eui(), "name": "d"}
    ).body
    now = datetime.now(UTC)
    ages = [0, 3, 12, 20]  # days ago: spread over more than one page's worth of day partitions
    for age in ages:
        repository.add_history(
            DeviceHistoryEntry(
                id=new_id(),
                device_id=device["id"],
                event="up",
                received_at=iso(now - timedelta(days=age)),
                data={"age": age},
            ),
            owner_id=device["owner_id"],
        )
    seen, cursor, requests = [], None, 0
    while True:
        reply = api.call(
            "GET",
            "/api/v1/devices/history",
            token=admin["token"],
            query={"limit": 50, **({"cursor": cursor} if cursor else {})},
        )
        assert reply.status == 200
        assert len(reply.ddb_calls) <= repository.DAYS_PER_PAGE
        seen += [e["data"]["age"] for e in reply.body["items"] if e["device_id"] == device["id"]]
        cursor, requests = reply.body["next_cursor"], requests + 1
        if not cursor:
            break
    assert seen == ages
    assert requests <= 6  # 31 days of retention, 7 partitions a request
