from __future__ import annotations

from typing import Literal

from fleetgate.core.schemas import Schema


class PlatformHealth(Schema):
    status: Literal["healthy"] = "healthy"
    service: str = "fleetgate"
    version: str
    stage: str
    timestamp: str
