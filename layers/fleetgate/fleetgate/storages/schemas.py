# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

from typing import Annotated, Any, Literal

from pydantic import Field

from fleetgate.core.schemas import Input, Name, Schema

Description = Annotated[str, Field(max_length=2048)]
RetentionDays = Annotated[int, Field(ge=1, le=3650, description="Points expire this many days after their time")]
StorageType = Literal["timeseries"]


class StorageCreate(Input):
    name: Name
    description: Description = ""
    type: StorageType = "timeseries"
    retention_days: RetentionDays = 30


class StorageUpdate(Input):
    """Fields to change. A new retention applies to points written from then on."""

    name: Name | None = None
    description: Description | None = None
    retention_days: RetentionDays | None = None


class Storage(Schema):
    id: str
    owner_id: str
    name: str
    description: str = ""
    type: StorageType = "timeseries"
    retention_days: int
    created_at: str
    updated_at: str


class DataPoint(Schema):
    id: str
    storage_id: str
    device_id: str
    timestamp: str
    data: dict[str, Any] = Field(default_factory=dict)
