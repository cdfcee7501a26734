"""Device and label logic. Plain values and models in, models or domain errors out.

Visibility rule, the same everywhere: a user sees and changes only what they own;
an admin sees and changes everything. Someone else's resource is reported as
404, exactly like a missing one, so ids cannot be probed.
"""

from __future__ import annotations

from typing import Any

from fleetgate.core.access import new_resource, owner_scope, visible
from fleetgate.core.auth import Principal
from fleetgate.core.errors import InvalidInput, NotFound
from fleetgate.core.ids import now_iso
from fleetgate.core.pagination import Page
from fleetgate.core.repository import Lookup
from fleetgate.core.schemas import changes
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

# ---------------------------------------------------------------- devices


def create_device(who: Principal, data: DeviceCreate) -> Device:
    device = Device(**new_resource(who), **data.model_dump())
    repository.create_device(device)
    return device


def list_devices(who: Principal, *, limit: int, cursor: str | None) -> Page[Device]:
    return repository.list_devices(owner_scope(who), limit=limit, cursor=cursor)


def get_device(who: Principal, device_id: str) -> Device:
    return visible(who, repository.get_device(device_id), "Device")


def update_device(who: Principal, device_id: str, data: DeviceUpdate) -> Device:
    device = get_device(who, device_id)
    changed = changes(data, device, nullable=("expected_transmit_time",))
    if not changed:
        return device
    return repository.update_device(device, changed, now_iso())


def delete_device(who: Principal, device_id: str) -> None:
    repository.delete_device(get_device(who, device_id))


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
    label = Label(**new_resource(who), **data.model_dump())
    repository.create_label(label)
    return label


def list_labels(who: Principal, *, limit: int, cursor: str | None) -> Page[Label]:
    return repository.list_labels(owner_scope(who), limit=limit, cursor=cursor)


def get_label(who: Principal, label_id: str) -> Label:
    return visible(who, repository.get_label(label_id), "Label")


def update_label(who: Principal, label_id: str, data: LabelUpdate) -> Label:
    label = get_label(who, label_id)
    changed = changes(data, label, nullable=("color",))
    if not changed:
        return label
    return repository.update_label(label, changed, now_iso())


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


# ---------------------------------------------------------------- for other contexts (flows, ingest, the engine)
def device_owners(device_ids: list[str]) -> Lookup[dict[str, str]]:
    """Which of these devices exist and who owns each (id → owner id), as a batch read to make alone or with
    other contexts' lookups (core.repository.read_all)."""
    return repository.device_owners(device_ids)


def label_owners(label_ids: list[str]) -> Lookup[dict[str, str]]:
    return repository.label_owners(label_ids)


def device_id_by_eui(dev_eui: str) -> Lookup[str | None]:
    """The id of the device registered with ``dev_eui`` (normalised), or None."""
    return repository.device_id_by_eui(dev_eui)


def device_by_id(device_id: str) -> Device | None:
    """A device, whoever owns it (the caller checks the owner it expects)."""
    return repository.get_device(device_id)


def label_ids(device_id: str) -> list[str]:
    """The labels a device is in (a consistent read: a membership just added counts)."""
    return repository.label_ids_of(device_id)


def record_history(
    entry: DeviceHistoryEntry, owner_id: str, *, at: str | None = None, outbox: dict[str, Any] | None = None
) -> bool:
    """Add an entry to a device's history (uplinks and other events, offline, unknown devices). With ``at`` (the
    event's own time as its sender stamped it), only once: False when the entry is there already (a copy of the
    event). ``outbox``: stored with the entry and handed to :func:`history_outbox` by the table's stream."""
    return repository.add_history(entry, owner_id, at=at, outbox=outbox)


def history_outbox(image: dict[str, Any]) -> dict[str, Any] | None:
    """The outbox stored with a history entry, from the history table's stream image; None when it has none."""
    return repository.outbox_of(image)
