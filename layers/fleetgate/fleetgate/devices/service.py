"""Device and label logic. Plain values and models in, models or domain errors out.

Visibility rule, the same everywhere: a user sees and changes only what they own;
an admin sees and changes everything. Someone else's resource is reported as
404, exactly like a missing one, so ids cannot be probed.
"""

from __future__ import annotations

from typing import TypeVar

from fleetgate.core.auth import Principal
from fleetgate.core.errors import InvalidInput, NotFound
from fleetgate.core.ids import new_id, now_iso
from fleetgate.core.pagination import Page
from fleetgate.devices import repository
from fleetgate.devices.schemas import (
    Device,
    DeviceCreate,
    DeviceHistoryEntry,
    DeviceLabels,
    DeviceUpdate,
    Label,
    LabelCreate,
    LabelUpdate,
    Membership,
)
from fleetgate.search import service as search

T = TypeVar("T", Device, Label)


def _visible(who: Principal, resource: T | None, what: str) -> T:
    if resource is None or not (who.is_admin or resource.owner_id == who.user_id):
        raise NotFound(f"{what} not found")
    return resource


def _changes(data: DeviceUpdate | LabelUpdate, required: tuple[str, ...]) -> dict:
    """The fields a partial update sets; ``null`` is refused for fields that cannot be empty."""
    changes = data.model_dump(exclude_unset=True)
    for name in required:
        if name in changes and changes[name] is None:
            raise InvalidInput(f"{name} cannot be null", field=name)
    return changes


def _searchable(device: Device | None) -> dict[str, str | None] | None:
    """What search indexes of a device (see fleetgate.search.service.sync, called once per device write)."""
    return None if device is None else {"name": device.name, "dev_eui": device.dev_eui}


def _scope(who: Principal) -> str | None:
    """The owner to filter lists on: the caller, or nobody for an admin."""
    return None if who.is_admin else who.user_id


# ---------------------------------------------------------------- devices


def create_device(who: Principal, data: DeviceCreate) -> Device:
    now = now_iso()
    device = Device(id=new_id(), owner_id=who.user_id, created_at=now, updated_at=now, **data.model_dump())
    repository.create_device(device)
    search.sync(device.owner_id, "device", device.id, None, _searchable(device))
    return device


def list_devices(who: Principal, *, limit: int, cursor: str | None) -> Page[Device]:
    return repository.list_devices(_scope(who), limit=limit, cursor=cursor)


def get_device(who: Principal, device_id: str) -> Device:
    return _visible(who, repository.get_device(device_id), "Device")


def update_device(who: Principal, device_id: str, data: DeviceUpdate) -> Device:
    device = get_device(who, device_id)
    changes = _changes(data, required=("dev_eui", "name", "description", "status", "metadata"))
    if not changes:
        return device
    updated = repository.update_device(device, changes, now_iso())
    search.sync(device.owner_id, "device", device.id, _searchable(device), _searchable(updated))
    return updated


def delete_device(who: Principal, device_id: str) -> None:
    device = get_device(who, device_id)
    repository.delete_device(device)
    search.sync(device.owner_id, "device", device.id, _searchable(device), None)


def device_labels(who: Principal, device_id: str) -> DeviceLabels:
    device = get_device(who, device_id)
    return DeviceLabels(device_id=device.id, labels=repository.get_labels(repository.label_ids_of(device.id)))


def set_device_labels(who: Principal, device_id: str, label_ids: list[str]) -> DeviceLabels:
    """Replace the device's labels. Every label must exist and belong to the device's owner."""
    device = get_device(who, device_id)
    wanted = list(dict.fromkeys(label_ids))
    labels = [label for label in repository.get_labels(wanted) if label.owner_id == device.owner_id]
    missing = sorted(set(wanted) - {label.id for label in labels})
    if missing:
        raise InvalidInput(f"Unknown label id(s): {', '.join(missing)}", field="label_ids")
    repository.replace_memberships(device.id, device.owner_id, wanted, now_iso())
    return DeviceLabels(device_id=device.id, labels=labels)


def device_history(who: Principal, device_id: str, *, limit: int, cursor: str | None) -> Page[DeviceHistoryEntry]:
    device = get_device(who, device_id)
    return repository.device_history(device.id, limit=limit, cursor=cursor)


def all_device_history(who: Principal, *, limit: int, cursor: str | None) -> Page[DeviceHistoryEntry]:
    if who.is_admin:
        return repository.all_history(limit=limit, cursor=cursor)
    return repository.owner_history(who.user_id, limit=limit, cursor=cursor)


# ---------------------------------------------------------------- labels


def create_label(who: Principal, data: LabelCreate) -> Label:
    now = now_iso()
    label = Label(id=new_id(), owner_id=who.user_id, created_at=now, updated_at=now, **data.model_dump())
    repository.create_label(label)
    return label


def list_labels(who: Principal, *, limit: int, cursor: str | None) -> Page[Label]:
    return repository.list_labels(_scope(who), limit=limit, cursor=cursor)


def get_label(who: Principal, label_id: str) -> Label:
    return _visible(who, repository.get_label(label_id), "Label")


def update_label(who: Principal, label_id: str, data: LabelUpdate) -> Label:
    label = get_label(who, label_id)
    changes = _changes(data, required=("name", "description"))
    if not changes:
        return label
    return repository.update_label(label, changes, now_iso())


def delete_label(who: Principal, label_id: str) -> None:
    repository.delete_label(get_label(who, label_id))


def add_device_to_label(who: Principal, label_id: str, device_id: str) -> tuple[Membership, bool]:
    label = get_label(who, label_id)
    device = get_device(who, device_id)
    if device.owner_id != label.owner_id:
        raise NotFound("Device not found")  # another owner's device is invisible to this label
    return repository.add_membership(device.id, label.id, label.owner_id, now_iso())


def remove_device_from_label(who: Principal, label_id: str, device_id: str) -> None:
    label = get_label(who, label_id)
    if not repository.remove_membership(device_id, label.id):
        raise NotFound("Device is not in this label")
