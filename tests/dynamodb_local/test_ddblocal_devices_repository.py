"""fleetgate.devices.repository on the real engine: claims, transactions, GSIs, cursors and history."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from fleetgate.core.errors import Conflict, InvalidInput, NotFound
from fleetgate.core.ids import iso, now_iso, utc_now
from fleetgate.devices import repository
from fleetgate.devices.schemas import Device, DeviceHistoryEntry, Label

pytestmark = pytest.mark.dynamodb_local


def _device(owner: str, created_at: str | None = None, **overrides) -> Device:
    now = created_at or now_iso()
    fields = {
        "id": str(uuid.uuid4()),
        "owner_id": owner,
        "dev_eui": uuid.uuid4().hex[:16],
        "name": "Cold room",
        "created_at": now,
        "updated_at": now,
    }
    device = Device(**{**fields, **overrides})
    repository.create_device(device)
    return device


def _label(owner: str, name: str | None = None) -> Label:
    now = now_iso()
    label = Label(
        id=str(uuid.uuid4()),
        owner_id=owner,
        name=name or f"label-{uuid.uuid4().hex[:8]}",
        created_at=now,
        updated_at=now,
    )
    repository.create_label(label)
    return label


def _walk(list_page, limit: int) -> list:
    """Every item of a paginated list, following next_cursor."""
    items, cursor = [], None
    while True:
        page = list_page(limit=limit, cursor=cursor)
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


# ---------------------------------------------------------------- devices


def test_given_a_created_device_when_fetched_then_it_round_trips(owner):
    device = _device(owner, metadata={"site": "DC-1", "depth": 1.5}, expected_transmit_time=900)

    assert repository.get_device(device.id) == device
    assert repository.get_device(str(uuid.uuid4())) is None


def test_given_a_claimed_dev_eui_when_another_device_uses_it_then_conflict_even_for_another_owner(owner):
    first = _device(owner)

    with pytest.raises(Conflict) as caught:
        _device(f"{owner}-other", dev_eui=first.dev_eui)

    assert caught.value.field == "dev_eui"


def test_given_a_new_dev_eui_when_updating_then_the_claim_moves_with_it(owner):
    device = _device(owner)
    new_eui = uuid.uuid4().hex[:16]

    updated = repository.update_device(device, {"dev_eui": new_eui, "name": "Renamed"}, "2026-11-22T10:00:00.000Z")

    assert (updated.dev_eui, updated.name, updated.updated_at) == (new_eui, "Renamed", "2026-11-22T10:00:00.000Z")
    assert repository.get_device(device.id) == updated
    with pytest.raises(Conflict):
        _device(owner, dev_eui=new_eui)  # the new value is claimed
    _device(owner, dev_eui=device.dev_eui)  # and the old one is free again


def test_given_a_dev_eui_held_by_another_device_when_updating_then_conflict_and_nothing_changes(owner):
    mine, theirs = _device(owner), _device(owner)

    with pytest.raises(Conflict):
        repository.update_device(mine, {"dev_eui": theirs.dev_eui, "name": "x"}, now_iso())

    assert repository.get_device(mine.id) == mine


def test_given_plain_field_changes_when_updating_then_only_they_change(owner):
    device = _device(owner)

    updated = repository.update_device(device, {"status": "maintenance", "metadata": {"a": 1}}, now_iso())

    assert repository.get_device(device.id) == updated
    assert (updated.status, updated.metadata, updated.dev_eui) == ("maintenance", {"a": 1}, device.dev_eui)


def test_given_a_missing_device_when_updating_then_not_found(owner):
    ghost = Device(
        id=str(uuid.uuid4()),
        owner_id=owner,
        dev_eui=uuid.uuid4().hex[:16],
        name="ghost",
        created_at=now_iso(),
        updated_at=now_iso(),
    )

    with pytest.raises(NotFound):
        repository.update_device(ghost, {"name": "x"}, now_iso())


def test_given_three_devices_of_an_owner_when_listing_two_per_page_then_newest_first_with_a_cursor(owner):
    devices = [_device(owner, created_at=f"2026-11-22T10:00:0{i}.000Z") for i in range(3)]

    first = repository.list_devices(owner, limit=2, cursor=None)
    second = repository.list_devices(owner, limit=2, cursor=first.next_cursor)

    assert [d.id for d in first.items] == [devices[2].id, devices[1].id]
    assert [d.id for d in second.items] == [devices[0].id]
    assert second.next_cursor is None
    with pytest.raises(InvalidInput):  # a cursor is bound to its list
        repository.list_devices(f"{owner}-other", limit=2, cursor=first.next_cursor)


def test_given_devices_of_several_owners_when_an_admin_lists_then_every_device_newest_first(owner):
    # created far in the future so they are the newest in the session's shared table
    stamp = f"2199-{uuid.uuid4().int % 12 + 1:02d}-01T00:00:0"
    devices = [_device(f"{owner}-{i}", created_at=f"{stamp}{i}.000Z") for i in range(3)]
    ours = {d.id for d in devices}

    listed = [d.id for d in _walk(lambda **kw: repository.list_devices(None, **kw), limit=2) if d.id in ours]

    assert listed == [devices[2].id, devices[1].id, devices[0].id]


def test_given_a_device_with_labels_when_deleted_then_its_memberships_and_dev_eui_claim_go_too(owner):
    device, label = _device(owner), _label(owner)
    repository.add_membership(device.id, label.id, owner, now_iso())

    repository.delete_device(device)

    assert repository.get_device(device.id) is None
    assert repository.label_ids_of(device.id) == []
    _device(owner, dev_eui=device.dev_eui)  # the EUI is free again
    with pytest.raises(NotFound):
        repository.delete_device(device)


# ---------------------------------------------------------------- labels and memberships


def test_given_a_label_name_taken_by_the_owner_when_creating_then_conflict_in_any_case_but_other_owners_may(owner):
    label = _label(owner, name="Freezers")

    with pytest.raises(Conflict) as caught:
        _label(owner, name="  freezers ")

    assert caught.value.field == "name"
    assert _label(f"{owner}-other", name=label.name).name == "Freezers"


def test_given_memberships_when_adding_removing_and_replacing_then_the_device_has_exactly_the_wanted_labels(owner):
    device = _device(owner)
    l1, l2, l3 = _label(owner), _label(owner), _label(owner)

    membership, created = repository.add_membership(device.id, l1.id, owner, "2026-11-22T10:00:00.000Z")
    again, created_again = repository.add_membership(device.id, l1.id, owner, "2026-11-22T11:00:00.000Z")
    assert (created, created_again) == (True, False)
    assert again.created_at == membership.created_at == "2026-11-22T10:00:00.000Z"

    repository.add_membership(device.id, l2.id, owner, now_iso())
    assert repository.remove_membership(device.id, l1.id) is True
    assert repository.remove_membership(device.id, l1.id) is False
    assert repository.label_ids_of(device.id) == [l2.id]

    repository.replace_memberships(device.id, owner, [l3.id, l1.id, l3.id], now_iso())
    assert sorted(repository.label_ids_of(device.id)) == sorted([l1.id, l3.id])


def test_given_a_label_on_devices_when_deleted_then_it_leaves_every_device(owner):
    label, keep = _label(owner), _label(owner)
    devices = [_device(owner) for _ in range(2)]
    for device in devices:
        repository.add_membership(device.id, label.id, owner, now_iso())
        repository.add_membership(device.id, keep.id, owner, now_iso())

    repository.delete_label(label)

    assert repository.get_label(label.id) is None
    assert [repository.label_ids_of(d.id) for d in devices] == [[keep.id], [keep.id]]
    assert _label(owner, name=label.name).name == label.name  # the name is free again


# ---------------------------------------------------------------- history


def test_given_history_of_two_devices_when_reading_it_then_per_device_per_owner_and_overall_are_newest_first(owner):
    a, b = _device(owner), _device(owner)
    now = utc_now()
    entries = [  # oldest first; the oldest is yesterday, so the overall walk crosses a day partition
        (a, now - timedelta(days=1)),
        (b, now - timedelta(minutes=2)),
        (a, now - timedelta(minutes=1)),
    ]
    written = []
    for device, at in entries:
        entry = DeviceHistoryEntry(
            id=str(uuid.uuid4()), device_id=device.id, event="up", received_at=iso(at), data={"fcnt": len(written)}
        )
        repository.add_history(entry, owner)
        written.append(entry)
    newest_first = [e.id for e in reversed(written)]
    ours = set(newest_first)

    assert [e.id for e in repository.device_history(a.id, limit=10, cursor=None).items] == [
        written[2].id,
        written[0].id,
    ]
    assert [e.id for e in _walk(lambda **kw: repository.owner_history(owner, **kw), limit=2)] == newest_first
    everyone = _walk(lambda **kw: repository.all_history(today=now, **kw), limit=2)
    assert [e.id for e in everyone if e.id in ours] == newest_first
    assert repository.device_history(a.id, limit=10, cursor=None).items[1].data == {"fcnt": 0}
