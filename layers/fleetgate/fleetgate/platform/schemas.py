# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

from typing import Literal

from fleetgate.core.schemas import Schema


class PlatformHealth(Schema):
    status: Literal["healthy"] = "healthy"
    service: str = "fleetgate"
    version: str
    stage: str
    timestamp: str
