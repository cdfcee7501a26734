"""Microshare clusters as the rest of the context passes them around, and how their devices read.

A cluster is one Microshare record ``{_id, name, recType, data: {devices: [...]}}`` that holds every device of one
type for some customers; its devices stay Microshare's own dicts (they are written back whole, so keys we do not
know survive a round trip). :class:`Cluster` is that record, parsed once where it comes in (the upstream client,
the cache), with the record kept to send back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fleetgate.microshare.schemas import DEVICE_TYPES, TRAP, ClusterSummary, Device

RawDevice = dict[str, Any]
_HEX16 = re.compile(r"[0-9A-F]{16}")


@dataclass
class Cluster:
    id: str
    name: str
    rec_type: str
    devices: list[RawDevice]  # Microshare's device records, in its order
    record: dict[str, Any]  # the whole upstream record (what a PUT sends back, with ``devices``)

    @classmethod
    def parse(cls, obj: Any) -> Cluster | None:
        """A cluster from an upstream (or cached) record; None when it is not one. Devices that are not objects
        are dropped."""
        if not isinstance(obj, dict) or not isinstance(obj.get("_id"), str) or not isinstance(obj.get("recType"), str):
            return None
        data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
        devices = [d for d in data.get("devices") or [] if isinstance(d, dict)] if isinstance(data, dict) else []
        return cls(id=obj["_id"], name=str(obj.get("name") or ""), rec_type=obj["recType"], devices=devices, record=obj)

    def to_record(self) -> dict[str, Any]:
        """The upstream record with this cluster's current devices (for a PUT, or the cache)."""
        data = self.record.get("data") if isinstance(self.record.get("data"), dict) else {}
        return {**self.record, "name": self.name, "data": {**data, "devices": self.devices}}

    @property
    def device_type(self) -> str:
        return DEVICE_TYPES.get(self.rec_type, "other")

    def summary(self) -> ClusterSummary:
        return ClusterSummary(
            id=self.id,
            name=self.name,
            rec_type=self.rec_type,
            device_type=self.device_type,
            device_count=len(self.devices),
        )

    def view(self, raw: RawDevice) -> Device:
        """One of its devices as the API shows it: the location read out by position."""
        location = location_of(raw)
        trap = self.rec_type == TRAP

        def at(i: int, only_trap: bool = False) -> str | None:
            return location[i] if len(location) > i and (trap or not only_trap) else None

        return Device(
            id=str(raw.get("id") or raw.get("deviceId") or ""),
            guid=_str(raw.get("guid")),
            status=_str(raw.get("status")),
            device_type=self.device_type,
            rec_type=self.rec_type,
            cluster_id=self.id,
            cluster_name=self.name,
            meta=raw["meta"] if isinstance(raw.get("meta"), dict) else {},
            location=location,
            customer=at(0),
            site=at(1),
            area=at(2),
            erp_reference=at(3, True),
            placement=at(4, True),
            configuration=at(5, True),
        )


def location_of(raw: RawDevice) -> list[str]:
    meta = raw.get("meta") if isinstance(raw.get("meta"), dict) else {}
    location = meta.get("location")
    return [str(x) if x is not None else "" for x in location] if isinstance(location, list) else []


def reference_of(raw: RawDevice) -> str | None:
    """A rodent sensor's ERP reference (``location[3]``)."""
    location = location_of(raw)
    return location[3].strip() if len(location) > 3 and location[3] else None


def matches(raw: RawDevice, key: str) -> bool:
    """Whether ``key`` names this device: its guid, or its id (DevEUI) in any of its written forms
    (``58A0CB000011F85E``, ``58-a0-cb-00-00-11-f8-5e``, ...)."""
    device_id = str(raw.get("id") or raw.get("deviceId") or "")
    if key in (device_id, str(raw.get("guid") or "\0")):
        return True
    eui = eui_key(key)
    return eui is not None and eui == eui_key(device_id)


def eui_key(value: str) -> str | None:
    """A DevEUI's 16 upper-case hex digits whatever separators it was written with; None for anything else."""
    digits = re.sub(r"[\s:-]", "", value).upper()
    return digits if _HEX16.fullmatch(digits) else None


def same(a: str | None, b: str | None) -> bool:
    return (a or "").strip().casefold() == (b or "").strip().casefold()


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
