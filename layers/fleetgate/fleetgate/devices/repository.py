"""Devices, labels, memberships and device history in DynamoDB. The only module of this context that knows DynamoDB.

Access patterns, each served by a key or a GSI (never a Scan):
- device / label by id: table key;
- a user's devices / labels, newest first: GSI ``by_owner`` (owner_id, created_key);
- every device / label, for admins: GSI ``by_kind`` (kind, created_key), KEYS_ONLY so the
  frequent status writes of ingest never touch it; items come back with one BatchGetItem;
- dev_eui → device, label name per owner: claims in the uniques table (also what makes them unique);
- a device's labels: membership table key (device_id, label_id); a label's devices: GSI ``by_label``;
- history of one device: table key (device_id, sk); a user's: GSI ``by_owner``; everyone's: GSI ``by_day``. An
  entry's data is kept compressed in ``packed`` (write units are per KB, and each index holds a copy), with
  the ingest outbox of an uplink keyed by its own time (see :func:`add_history`); ``sk`` is
  "<received_at or the event's own time>#<id>";
- presence (written by ingest and offline detection through :mod:`fleetgate.devices.presence`): ``last_seen``,
  ``status``, ``battery``, ``location`` and the sparse pair ``offline_shard`` / ``offline_due`` (ISO time =
  last_seen + expected_transmit_time) that GSI ``by_offline_due`` indexes, so offline detection is one Query per
  shard on due time, never a Scan. Presence updates set only their own attributes (the device routes may write
  the others concurrently).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.attributes import BinaryAttribute, JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.indexes import AllProjection, IncludeProjection, KeysOnlyProjection

from fleetgate.core.errors import Conflict, InvalidInput, NotFound
from fleetgate.core.ids import parse_iso
from fleetgate.core.packing import pack, unpack
from fleetgate.core.pagination import Page, decode_cursor, encode_cursor
from fleetgate.core.repository import (
    BaseModel,
    Lookup,
    OwnedItem,
    Transaction,
    batch_get,
    get_item,
    gsi,
    is_conditional_failure,
    list_owned,
    meta,
    owned_fields,
    owned_model,
    owners,
    query_page,
    save_if,
    uniques,
)
from fleetgate.core.settings import cached, history_retention_days, table_name
from fleetgate.devices.schemas import Device, DeviceHistoryEntry, DuePresence, Label, Membership

OFFLINE_INDEX_ATTRIBUTES = ["owner_id", "dev_eui", "name", "last_seen", "expected_transmit_time"]


class DeviceItem(OwnedItem):
    class Meta:
        abstract = True

    dev_eui = UnicodeAttribute()
    status = UnicodeAttribute(default="never_seen")
    expected_transmit_time = NumberAttribute(null=True)
    metadata = JSONAttribute(default=dict)
    last_seen = UnicodeAttribute(null=True)
    battery = JSONAttribute(null=True)  # written by ingest (status events)
    location = JSONAttribute(null=True)  # written by ingest (location events)
    offline_shard = UnicodeAttribute(null=True)  # with offline_due: only online devices with an expected time
    offline_due = UnicodeAttribute(null=True)


class LabelItem(OwnedItem):
    class Meta:
        abstract = True

    color = UnicodeAttribute(null=True)


class MembershipItem(BaseModel):
    class Meta:
        abstract = True

    device_id = UnicodeAttribute(hash_key=True)
    label_id = UnicodeAttribute(range_key=True)
    owner_id = UnicodeAttribute()
    created_at = UnicodeAttribute()


class HistoryItem(BaseModel):
    class Meta:
        abstract = True

    device_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # "<received_at>#<id>"
    id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    day = UnicodeAttribute()
    event = UnicodeAttribute()
    received_at = UnicodeAttribute()
    data = JSONAttribute(null=True)  # entries written before packing
    packed = BinaryAttribute(null=True, legacy_encoding=False)  # {"data": ..., "outbox": ...} (core.packing)
    flows = NumberAttribute(null=True)  # with an outbox: how many flows it starts (the flow starter's filter)
    expires_at = TTLAttribute(null=True)

    def contents(self) -> dict[str, Any]:
        if self.packed is not None:
            return unpack(self.packed)
        return {"data": self.data or {}}


@cached
def _devices() -> type[DeviceItem]:
    by_offline_due = gsi("by_offline_due", "offline_shard", "offline_due", IncludeProjection(OFFLINE_INDEX_ATTRIBUTES))
    return owned_model(DeviceItem, "DeviceModel", table_name("DEVICES_TABLE"), by_offline_due=by_offline_due())


@cached
def _labels() -> type[LabelItem]:
    return owned_model(LabelItem, "LabelModel", table_name("LABELS_TABLE"))


@cached
def _memberships() -> type[MembershipItem]:
    return type(
        "MembershipModel",
        (MembershipItem,),
        {
            "Meta": meta(table_name("DEVICE_LABELS_TABLE")),
            "by_label": gsi("by_label", "label_id", "device_id", KeysOnlyProjection)(),
        },
    )


@cached
def _history() -> type[HistoryItem]:
    return type(
        "HistoryModel",
        (HistoryItem,),
        {
            "Meta": meta(table_name("DEVICE_HISTORY_TABLE")),
            "by_owner": gsi("by_owner", "owner_id", "sk", AllProjection)(),
            "by_day": gsi("by_day", "day", "sk", AllProjection)(),
        },
    )


def dev_eui_key(dev_eui: str) -> str:
    return f"dev_eui#{dev_eui}"


def label_name_key(owner_id: str, name: str) -> str:
    return f"label#{owner_id}#{name.strip().lower()}"


_NOT_SHOWN = ("kind", "created_key", "offline_shard", "offline_due")


def _device(item: DeviceItem) -> Device:
    return Device(**owned_fields(item, exclude=_NOT_SHOWN))


def _label(item: LabelItem) -> Label:
    return Label(**owned_fields(item))


# ---------------------------------------------------------------- devices


def create_device(device: Device) -> None:
    Devices, Claims = _devices(), uniques()
    item = Devices(kind="device", created_key=f"{device.created_at}#{device.id}", **device.model_dump())
    tx = Transaction(Devices)
    tx.save("device", item, condition=Devices.id.does_not_exist())
    tx.save("eui", Claims(dev_eui_key(device.dev_eui), owner_id=device.id), condition=Claims.key.does_not_exist())
    if tx.run():
        raise Conflict(f"A device with dev_eui {device.dev_eui} already exists", field="dev_eui")


def get_device(device_id: str) -> Device | None:
    item = get_item(_devices(), device_id)
    return None if item is None else _device(item)


def update_device(current: Device, changes: dict[str, Any], updated_at: str) -> Device:
    """Set only the changed fields (ingest may write status concurrently); move the dev_eui claim if it changes."""
    Devices, Claims = _devices(), uniques()
    actions = [getattr(Devices, k).set(v) for k, v in changes.items()] + [Devices.updated_at.set(updated_at)]
    target = Devices(id=current.id)
    new_eui = changes.get("dev_eui")
    if new_eui is None or new_eui == current.dev_eui:
        try:
            target.update(actions=actions, condition=Devices.id.exists())
        except UpdateError as exc:
            if is_conditional_failure(exc):
                raise NotFound("Device not found") from None
            raise
        return _device(target)
    tx = Transaction(Devices)
    tx.update("device", target, actions=actions, condition=Devices.id.exists())
    tx.delete("old_eui", Claims(dev_eui_key(current.dev_eui)), condition=Claims.owner_id == current.id)
    tx.save("new_eui", Claims(dev_eui_key(new_eui), owner_id=current.id), condition=Claims.key.does_not_exist())
    failed = tx.run()
    if "new_eui" in failed:
        raise Conflict(f"A device with dev_eui {new_eui} already exists", field="dev_eui")
    if failed:
        raise NotFound("Device not found")
    return current.model_copy(update={**changes, "updated_at": updated_at})


def delete_device(device: Device) -> None:
    Devices, Claims = _devices(), uniques()
    tx = Transaction(Devices)
    tx.delete("device", Devices(id=device.id), condition=Devices.id.exists())
    tx.delete("eui", Claims(dev_eui_key(device.dev_eui)), condition=Claims.owner_id == device.id)
    if tx.run():
        raise NotFound("Device not found")
    _delete_memberships(_memberships().query(device.id))


def device_owners(device_ids: Iterable[str]) -> Lookup[dict[str, str]]:
    return owners(_devices(), device_ids)


def device_id_by_eui(dev_eui: str) -> Lookup[str | None]:
    """The id of the device holding ``dev_eui`` (its claim in the uniques table), or None."""
    return Lookup(uniques(), [dev_eui_key(dev_eui)], lambda found: found[0].owner_id if found else None)


def list_devices(owner_id: str | None, *, limit: int, cursor: str | None) -> Page[Device]:
    return list_owned(_devices(), "device", _device, owner_id, limit=limit, cursor=cursor)


# ---------------------------------------------------------------- labels


def create_label(label: Label) -> None:
    Labels, Claims = _labels(), uniques()
    item = Labels(kind="label", created_key=f"{label.created_at}#{label.id}", **label.model_dump())
    tx = Transaction(Labels)
    tx.save("label", item, condition=Labels.id.does_not_exist())
    tx.save(
        "name",
        Claims(label_name_key(label.owner_id, label.name), owner_id=label.id),
        condition=Claims.key.does_not_exist(),
    )
    if tx.run():
        raise Conflict(f"A label named {label.name!r} already exists", field="name")


def get_label(label_id: str) -> Label | None:
    item = get_item(_labels(), label_id)
    return None if item is None else _label(item)


def label_owners(label_ids: Iterable[str]) -> Lookup[dict[str, str]]:
    return owners(_labels(), label_ids)


def get_labels(label_ids: Sequence[str]) -> list[Label]:
    """The labels that exist among ``label_ids``, in the given order."""
    found = {i.id: _label(i) for i in batch_get(_labels(), list(dict.fromkeys(label_ids)))}
    return [found[i] for i in label_ids if i in found]


def update_label(current: Label, changes: dict[str, Any], updated_at: str) -> Label:
    Labels, Claims = _labels(), uniques()
    actions = [getattr(Labels, k).set(v) for k, v in changes.items()] + [Labels.updated_at.set(updated_at)]
    new_name = changes.get("name")
    renamed = new_name is not None and new_name.strip().lower() != current.name.strip().lower()
    tx = Transaction(Labels)
    tx.update("label", Labels(id=current.id), actions=actions, condition=Labels.id.exists())
    if renamed:
        tx.delete(
            "old_name", Claims(label_name_key(current.owner_id, current.name)), condition=Claims.owner_id == current.id
        )
        tx.save(
            "new_name",
            Claims(label_name_key(current.owner_id, new_name), owner_id=current.id),
            condition=Claims.key.does_not_exist(),
        )
    failed = tx.run()
    if "new_name" in failed:
        raise Conflict(f"A label named {new_name!r} already exists", field="name")
    if failed:
        raise NotFound("Label not found")
    return current.model_copy(update={**changes, "updated_at": updated_at})


def delete_label(label: Label) -> None:
    Labels, Claims = _labels(), uniques()
    tx = Transaction(Labels)
    tx.delete("label", Labels(id=label.id), condition=Labels.id.exists())
    tx.delete("name", Claims(label_name_key(label.owner_id, label.name)), condition=Claims.owner_id == label.id)
    if tx.run():
        raise NotFound("Label not found")
    _delete_memberships(_memberships().by_label.query(label.id))


def list_labels(owner_id: str | None, *, limit: int, cursor: str | None) -> Page[Label]:
    return list_owned(_labels(), "label", _label, owner_id, limit=limit, cursor=cursor)


# ---------------------------------------------------------------- memberships


def label_ids_of(device_id: str) -> list[str]:
    return [m.label_id for m in _memberships().query(device_id, consistent_read=True)]


def add_membership(device_id: str, label_id: str, owner_id: str, created_at: str) -> tuple[Membership, bool]:
    """Idempotent: returns ``(membership, created)``."""
    Memberships = _memberships()
    item = Memberships(device_id, label_id, owner_id=owner_id, created_at=created_at)
    try:
        item.save(condition=Memberships.device_id.does_not_exist())
        return Membership(device_id=device_id, label_id=label_id, created_at=created_at), True
    except PutError as exc:
        if not is_conditional_failure(exc):
            raise
    existing = Memberships.get(device_id, label_id, consistent_read=True)
    return Membership(device_id=device_id, label_id=label_id, created_at=existing.created_at), False


def remove_membership(device_id: str, label_id: str) -> bool:
    Memberships = _memberships()
    try:
        Memberships(device_id, label_id).delete(condition=Memberships.device_id.exists())
        return True
    except DeleteError as exc:
        if is_conditional_failure(exc):
            return False
        raise


def replace_memberships(device_id: str, owner_id: str, label_ids: Sequence[str], created_at: str) -> None:
    Memberships = _memberships()
    current = set(label_ids_of(device_id))
    wanted = list(dict.fromkeys(label_ids))
    with Memberships.batch_write() as batch:
        for label_id in current - set(wanted):
            batch.delete(Memberships(device_id, label_id))
        for label_id in wanted:
            if label_id not in current:
                batch.save(Memberships(device_id, label_id, owner_id=owner_id, created_at=created_at))


def _delete_memberships(items: Iterable[MembershipItem]) -> None:
    Memberships = _memberships()
    with Memberships.batch_write() as batch:
        for m in items:
            batch.delete(Memberships(m.device_id, m.label_id))


# ---------------------------------------------------------------- history


def add_history(
    entry: DeviceHistoryEntry, owner_id: str, *, at: str | None = None, outbox: dict[str, Any] | None = None
) -> bool:
    """Store a history entry. With ``at`` (the event's own time, from its sender), it is keyed by that time and its
    id and written only if absent: a copy of the event (same time, same id) writes nothing and answers False.
    ``outbox`` (the flows an uplink starts, the ingest's plan) is stored with it, in the same write, for the
    table's stream (NEW_IMAGE) to hand to the flow starter (:func:`outbox_of`)."""
    History = _history()
    received = parse_iso(entry.received_at)
    contents: dict[str, Any] = {"data": entry.data}
    if outbox is not None:
        contents["outbox"] = outbox
    item = History(
        entry.device_id,
        f"{at or entry.received_at}#{entry.id}",
        id=entry.id,
        owner_id=owner_id,
        day=entry.received_at[:10],
        event=entry.event,
        received_at=entry.received_at,
        packed=pack(contents),
        flows=len(outbox.get("flows") or {}) if outbox is not None else None,
        expires_at=received + timedelta(days=history_retention_days()),
    )
    if at is None:
        item.save()
        return True
    return save_if(item, History.sk.does_not_exist())


def outbox_of(image: dict[str, Any]) -> dict[str, Any] | None:
    """The outbox of a history entry, from its stream image (plain values; binary ones base64-encoded, as in
    Lambda's event); None when it has none."""
    packed = image.get("packed")
    if not isinstance(packed, str | bytes):
        return None
    return unpack(base64.b64decode(packed)).get("outbox")


def _entry(item: HistoryItem) -> DeviceHistoryEntry:
    return DeviceHistoryEntry(
        id=item.id,
        device_id=item.device_id,
        event=item.event,
        received_at=item.received_at,
        data=item.contents().get("data") or {},
    )


def device_history(device_id: str, *, limit: int, cursor: str | None) -> Page[DeviceHistoryEntry]:
    return query_page(
        _history().query, _entry, limit=limit, cursor=cursor, scope=f"history:{device_id}", hash_key=device_id
    )


def owner_history(owner_id: str, *, limit: int, cursor: str | None) -> Page[DeviceHistoryEntry]:
    return query_page(
        _history().by_owner.query,
        _entry,
        limit=limit,
        cursor=cursor,
        scope=f"history-owner:{owner_id}",
        hash_key=owner_id,
    )


DAYS_PER_PAGE = 7


def all_history(*, limit: int, cursor: str | None, today: datetime | None = None) -> Page[DeviceHistoryEntry]:
    """Everyone's history, newest first, walking back through day partitions over the retention window.

    One request reads at most :data:`DAYS_PER_PAGE` day partitions, so a sparse history costs a bounded
    number of queries: a page may then hold fewer than ``limit`` items and still carry a ``next_cursor``.
    """
    History = _history()
    now = today or datetime.now(UTC)
    state = decode_cursor(cursor, "history-all") or {}
    try:
        day = parse_iso(state["day"]) if "day" in state else now
    except (TypeError, ValueError):
        raise InvalidInput("Invalid cursor", field="query:cursor") from None
    oldest = now - timedelta(days=history_retention_days() + 1)
    last_key = state.get("key")
    items: list[DeviceHistoryEntry] = []
    for _ in range(DAYS_PER_PAGE):
        if day < oldest or len(items) >= limit:
            break
        results = History.by_day.query(
            day.strftime("%Y-%m-%d"),
            limit=limit - len(items),
            page_size=limit - len(items),
            last_evaluated_key=last_key,
            scan_index_forward=False,
        )
        items.extend(_entry(i) for i in results)
        last_key = results.last_evaluated_key
        if last_key is None:
            day -= timedelta(days=1)
    next_state = {"day": day.isoformat(), "key": last_key} if day >= oldest else None
    return Page(items=items, next_cursor=encode_cursor(next_state, "history-all"))


# ---------------------------------------------------------------- presence (ingest, offline detection)
def mark_seen(device_id: str, last_seen: str, *, online: bool, offline_due: str | None, shard: str | None) -> bool:
    """An uplink: last_seen, status online (unless ``online`` is False: maintenance stays), and the offline due time
    (removed when there is none). False when the device no longer exists."""
    Devices = _devices()
    actions: list[Any] = [Devices.last_seen.set(last_seen)]
    if online:
        actions.append(Devices.status.set("online"))
    if offline_due and shard:
        actions += [Devices.offline_due.set(offline_due), Devices.offline_shard.set(shard)]
    else:
        actions += [Devices.offline_due.remove(), Devices.offline_shard.remove()]
    return _update_presence(device_id, actions)


def set_battery(device_id: str, battery: dict[str, Any]) -> bool:
    return _update_presence(device_id, [_devices().battery.set(battery)])


def set_location(device_id: str, location: dict[str, Any]) -> bool:
    return _update_presence(device_id, [_devices().location.set(location)])


def _update_presence(device_id: str, actions: list[Any], condition: Any = None) -> bool:
    Devices = _devices()
    cond = Devices.id.exists() if condition is None else (Devices.id.exists() & condition)
    try:
        Devices(id=device_id).update(actions=actions, condition=cond)
        return True
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise


def last_uplink(device_id: str, within: int = 10) -> str | None:
    """The latest received_at of an ``up`` among the device's ``within`` newest history entries, or None (entries
    are ordered by their sender's time when it stamped them: the latest received is not always the first)."""
    found = [
        item.received_at
        for item in _history().query(device_id, scan_index_forward=False, limit=within, page_size=within)
        if item.event == "up"
    ]
    return max(found, default=None)


def due_devices(shard: str, now: str, limit: int) -> Iterator[DuePresence]:
    """Online devices of ``shard`` whose offline_due is at or before ``now``, oldest due first."""
    Devices = _devices()
    for item in Devices.by_offline_due.query(
        shard,
        Devices.offline_due <= now,
        limit=limit,  # type: ignore[attr-defined]
        page_size=min(limit, 100),
    ):
        yield DuePresence(
            id=item.id,
            owner_id=item.owner_id or "",
            dev_eui=item.dev_eui or "",
            name=item.name or "",
            last_seen=item.last_seen,
            expected_transmit_time=int(item.expected_transmit_time) if item.expected_transmit_time else None,
            offline_due=item.offline_due,
        )


def mark_offline(device_id: str, due: str) -> bool:
    """Status offline, off the index, if its due time is still ``due`` (an uplink since then moved it)."""
    Devices = _devices()
    return _update_presence(
        device_id,
        [Devices.status.set("offline"), Devices.offline_due.remove(), Devices.offline_shard.remove()],
        Devices.offline_due == due,
    )
