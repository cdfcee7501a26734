# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

from typing import Annotated, Literal

from pydantic import Field

from fleetgate.core.schemas import Input, Name, Schema

Description = Annotated[str, Field(max_length=2048)]


class IngestKeyCreate(Input):
    name: Name = Field(description='What uses the key, e.g. "ChirpStack production"')
    description: Description = ""


class IngestKey(Schema):
    id: str
    owner_id: str
    name: str
    description: str = ""
    prefix: str = Field(description="The key's first characters, to recognise it; the key itself is never shown again")
    created_at: str
    updated_at: str


class IngestKeyCreated(IngestKey):
    key: str = Field(description="The X-API-Key value. Shown once: only a keyed hash of it is stored")


IngestStatus = Literal["accepted", "duplicate", "ignored"]


class IngestResult(Schema):
    """What ingest did with one event (always with 202: ChirpStack does not retry, it only logs failures)."""

    status: IngestStatus = Field(
        description="accepted; duplicate (already ingested, not processed again); ignored (unknown device: see reason)"
    )
    event: str
    format: str = Field(description="chirpstack_v4, chirpstack_v3 or helium")
    dev_eui: str
    device_id: str | None = None
    reason: str | None = None
    history_id: str | None = Field(default=None, description="The device history entry written")
    flows_triggered: int = Field(default=0, description="Flow runs started (one SQS message each)")
    received_at: str
