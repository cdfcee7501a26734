"""Label routes and device↔label membership (device-manager Label Management)."""

import uuid

from tests.support import new_eui


def _label(api, token, name=None, **extra):
    reply = api.call(
        "POST", "/api/v1/labels", token=token, json_body={"name": name or f"label-{uuid.uuid4().hex[:6]}", **extra}
    )
    assert reply.status == 201, reply.body
    return reply.body


def _device(api, token):
    reply = api.call("POST", "/api/v1/devices", token=token, json_body={"dev_eui": new_eui(), "name": "sensor"})
    assert reply.status == 201, reply.body
    return reply.body


def test_given_label_when_created_read_updated_deleted_then_each_step_answers_as_documented(api):
    user = api.register()
    label = _label(api, user["token"], name="Cold chain", color="#1E90FF", description="fridges")
    assert (label["name"], label["color"], label["owner_id"] != "") == ("Cold chain", "#1E90FF", True)
    assert api.call("GET", f"/api/v1/labels/{label['id']}", token=user["token"]).body == label
    updated = api.call("PUT", f"/api/v1/labels/{label['id']}", token=user["token"], json_body={"name": "Cold-chain"})
    assert updated.status == 200 and updated.body["name"] == "Cold-chain" and updated.body["color"] == "#1E90FF"
    assert api.call("DELETE", f"/api/v1/labels/{label['id']}", token=user["token"]).status == 204
    assert api.call("GET", f"/api/v1/labels/{label['id']}", token=user["token"]).status == 404


def test_given_label_name_taken_by_same_user_then_409_but_other_users_may_use_it(api):
    alice, bob = api.register(), api.register()
    _label(api, alice["token"], name="Trackers")
    dup = api.call("POST", "/api/v1/labels", token=alice["token"], json_body={"name": "trackers"})
    assert (dup.status, dup.body) == (409, {"detail": "A label named 'trackers' already exists"})
    assert api.call("POST", "/api/v1/labels", token=bob["token"], json_body={"name": "Trackers"}).status == 201
    other = _label(api, alice["token"], name="Other")
    clash = api.call("PUT", f"/api/v1/labels/{other['id']}", token=alice["token"], json_body={"name": "TRACKERS"})
    assert clash.status == 409


def test_given_renamed_label_then_old_name_is_free_again(api):
    user = api.register()
    label = _label(api, user["token"], name="Old")
    api.call("PUT", f"/api/v1/labels/{label['id']}", token=user["token"], json_body={"name": "New"})
    assert api.call("POST", "/api/v1/labels", token=user["token"], json_body={"name": "old"}).status == 201


def test_given_invalid_label_then_422(api):
    user = api.register()
    for body, field in (({"name": ""}, "name"), ({"name": "x", "color": "blue"}, "color"), ({}, "name")):
        reply = api.call("POST", "/api/v1/labels", token=user["token"], json_body=body)
        assert reply.status == 422 and reply.body["detail"][0]["loc"] == ["body", field], reply.body


def test_given_device_and_label_when_adding_and_removing_membership_then_device_labels_follow(api):
    user = api.register()
    device, label = _device(api, user["token"]), _label(api, user["token"])
    path = f"/api/v1/labels/{label['id']}/devices/{device['id']}"
    added = api.call("POST", path, token=user["token"])
    assert added.status == 201 and added.body["device_id"] == device["id"]
    again = api.call("POST", path, token=user["token"])
    assert again.status == 200 and again.body["created_at"] == added.body["created_at"]  # idempotent
    labels = api.call("GET", f"/api/v1/devices/{device['id']}/labels", token=user["token"])
    assert [x["id"] for x in labels.body["labels"]] == [label["id"]]
    assert api.call("DELETE", path, token=user["token"]).status == 204
    assert api.call("DELETE", path, token=user["token"]).status == 404
    assert api.call("GET", f"/api/v1/devices/{device['id']}/labels", token=user["token"]).body["labels"] == []


def test_given_device_when_putting_labels_then_set_is_replaced(api):
    user = api.register()
    device = _device(api, user["token"])
    a, b, c = (_label(api, user["token"]) for _ in range(3))
    first = api.call(
        "PUT",
        f"/api/v1/devices/{device['id']}/labels",
        token=user["token"],
        json_body={"label_ids": [a["id"], b["id"]]},
    )
    assert first.status == 200 and {x["id"] for x in first.body["labels"]} == {a["id"], b["id"]}
    second = api.call(
        "PUT",
        f"/api/v1/devices/{device['id']}/labels",
        token=user["token"],
        json_body={"label_ids": [c["id"], b["id"], c["id"]]},
    )
    assert [x["id"] for x in second.body["labels"]] == [c["id"], b["id"]]
    now = api.call("GET", f"/api/v1/devices/{device['id']}/labels", token=user["token"])
    assert {x["id"] for x in now.body["labels"]} == {b["id"], c["id"]}


def test_given_unknown_or_foreign_label_when_putting_labels_then_422_and_nothing_changes(api):
    alice, bob = api.register(), api.register()
    device, mine, theirs = _device(api, alice["token"]), _label(api, alice["token"]), _label(api, bob["token"])
    api.call(
        "PUT", f"/api/v1/devices/{device['id']}/labels", token=alice["token"], json_body={"label_ids": [mine["id"]]}
    )
    for bad in ("no-such-label", theirs["id"]):
        reply = api.call(
            "PUT",
            f"/api/v1/devices/{device['id']}/labels",
            token=alice["token"],
            json_body={"label_ids": [mine["id"], bad]},
        )
        assert reply.status == 422 and bad in reply.body["detail"][0]["msg"]
    kept = api.call("GET", f"/api/v1/devices/{device['id']}/labels", token=alice["token"])
    assert [x["id"] for x in kept.body["labels"]] == [mine["id"]]


def test_given_other_users_label_or_device_then_404(api):
    alice, bob = api.register(), api.register()
    label, device = _label(api, alice["token"]), _device(api, bob["token"])
    for method, body in (("GET", None), ("PUT", {"name": "x"}), ("DELETE", None)):
        reply = api.call(method, f"/api/v1/labels/{label['id']}", token=bob["token"], json_body=body)
        assert (reply.status, reply.body) == (404, {"detail": "Label not found"})
    own_label = _label(api, bob["token"])
    foreign_device = _device(api, alice["token"])
    reply = api.call("POST", f"/api/v1/labels/{own_label['id']}/devices/{foreign_device['id']}", token=bob["token"])
    assert (reply.status, reply.body) == (404, {"detail": "Device not found"})
    reply = api.call("POST", f"/api/v1/labels/{label['id']}/devices/{device['id']}", token=bob["token"])
    assert reply.status == 404


def test_given_label_with_devices_when_deleted_then_devices_lose_it(api):
    user = api.register()
    label = _label(api, user["token"])
    devices = [_device(api, user["token"]) for _ in range(3)]
    for d in devices:
        api.call("POST", f"/api/v1/labels/{label['id']}/devices/{d['id']}", token=user["token"])
    api.call("DELETE", f"/api/v1/labels/{label['id']}", token=user["token"])
    for d in devices:
        assert api.call("GET", f"/api/v1/devices/{d['id']}/labels", token=user["token"]).body["labels"] == []


def test_given_labelled_device_when_deleted_then_membership_is_gone(api):
    from fleetgate.devices import repository

    user = api.register()
    label, device = _label(api, user["token"]), _device(api, user["token"])
    api.call("POST", f"/api/v1/labels/{label['id']}/devices/{device['id']}", token=user["token"])
    api.call("DELETE", f"/api/v1/devices/{device['id']}", token=user["token"])
    assert repository.label_ids_of(device["id"]) == []


def test_given_labels_of_two_users_then_lists_are_scoped_and_admin_sees_all(api):
    alice, bob, admin = api.register(), api.register(), api.register(admin=True)
    a, b = _label(api, alice["token"]), _label(api, bob["token"])
    assert [x["id"] for x in api.call("GET", "/api/v1/labels", token=alice["token"]).body["items"]] == [a["id"]]
    every = {x["id"] for x in api.call("GET", "/api/v1/labels", token=admin["token"]).body["items"]}
    assert {a["id"], b["id"]} <= every
