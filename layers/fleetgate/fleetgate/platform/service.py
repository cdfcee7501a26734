"""The platform health check: a shallow liveness answer (no database or upstream call), so load balancers and
uptime probes can call it often and cheaply. Dependencies have their own checks (e.g. Microshare's)."""

from __future__ import annotations

from fleetgate.core.ids import now_iso
from fleetgate.core.settings import get_settings
from fleetgate.platform.schemas import PlatformHealth

VERSION = "1.0.0"


def health() -> PlatformHealth:
    return PlatformHealth(version=VERSION, stage=get_settings().stage, timestamp=now_iso())
