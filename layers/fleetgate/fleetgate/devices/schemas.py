# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

import json
from typing import Annotated, Any, ClassVar, Literal, NamedTuple

from pydantic import AfterValidator, Field

from fleetgate.core.ids import normalize_dev_eui
from fleetgate.core.schemas import Input, Name, Printable, Schema

DeviceStatus = Literal["never_seen", "online", "offline", "maintenance"]


def _small_json(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, default=str)) > 16_384:
        raise ValueError("metadata must serialise to at most 16 KiB of JSON")
    return value


DevEui = Annotated[str, AfterValidator(normalize_dev_eui)]
Description = Annotated[str, Field(max_length=2048)]
Metadata = Annotated[dict[str, Any], AfterValidator(_small_json)]
TransmitSeconds = Annotated[int, Field(ge=10, le=7 * 24 * 3600, description="Seconds expected between uplinks")]
Color = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")]


class DeviceCreate(Input):
    dev_eui: DevEui
    name: Name
    description: Description = ""
    status: DeviceStatus = "never_seen"
    expected_transmit_time: TransmitSeconds | None = None
    metadata: Metadata = Field(default_factory=dict)


class DeviceUpdate(Input):
    """Fields to change; absent fields keep their value."""

    dev_eui: DevEui | None = None
    name: Name | None = None
    description: Description | None = None
    status: DeviceStatus | None = None
    expected_transmit_time: TransmitSeconds | None = None
    metadata: Metadata | None = None


class Device(Schema):
    id: str
    owner_id: str
    dev_eui: str
    name: str
    description: str = ""
    status: DeviceStatus = "never_seen"
    expected_transmit_time: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    last_seen: str | None = None
    battery: dict[str, Any] | None = Field(
        default=None,
        description="From the last status event: level (%), "
        "level_unavailable, external_power_source, margin, updated_at",
    )
    location: dict[str, Any] | None = Field(
        default=None,
        description="From the last location event: latitude, longitude, altitude, source, accuracy, updated_at",
    )
    created_at: str
    updated_at: str


class LabelCreate(Input):
    name: Annotated[str, Field(min_length=1, max_length=64), Printable]
    description: Description = ""
    color: Color | None = None


class LabelUpdate(Input):
    name: Annotated[str, Field(min_length=1, max_length=64), Printable] | None = None
    description: Description | None = None
    color: Color | None = None


class Label(Schema):
    id: str
    owner_id: str
    name: str
    description: str = ""
    color: str | None = None
    created_at: str
    updated_at: str


class DeviceLabelsUpdate(Input):
    label_ids: Annotated[list[str], Field(max_length=50)]


class DeviceLabels(Schema):
    device_id: str
    labels: list[Label]


class Membership(Schema):
    label_id: str
    device_id: str
    created_at: str


class DeviceHistoryEntry(Schema):
    LIST_NAME: ClassVar[str] = "DeviceHistoryList"

    id: str
    device_id: str
    event: str = Field(description="up, join, status, location, log, ack, txack, offline, …")
    received_at: str
    data: dict[str, Any] = Field(default_factory=dict)


class DuePresence(NamedTuple):
    """A device offline detection found due (from the offline index): what marking it offline needs. A NamedTuple
    (cheaper to define at import than a frozen dataclass), changed with ``_replace``."""

    id: str
    owner_id: str
    dev_eui: str
    name: str
    last_seen: str | None
    expected_transmit_time: int | None
    offline_due: str | None
