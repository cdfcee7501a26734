"""Microshare ERP sync: the public functions of the context, for its routes and its scheduled refresh.

The work lives along its seams: :mod:`~fleetgate.microshare.auth` (the family's login, the service token),
:mod:`~fleetgate.microshare.cache` (the shared cluster cache), :mod:`~fleetgate.microshare.devices` (reads),
:mod:`~fleetgate.microshare.writes` (leased read-modify-writes of a cluster), :mod:`~fleetgate.microshare.sync`
(ERP gap analysis and sync) and :mod:`~fleetgate.microshare.benchmark`; clusters travel as
:class:`~fleetgate.microshare.clusters.Cluster`. Health and status, which look across them, are here.
"""

from __future__ import annotations

import time
from typing import Any

from fleetgate.core.errors import ConfigurationError, DomainError, GatewayTimeout
from fleetgate.core.ids import now_iso
from fleetgate.microshare import client as upstream
from fleetgate.microshare.auth import AUDIENCE, READ, WRITE, auth_status, login, session
from fleetgate.microshare.benchmark import benchmark
from fleetgate.microshare.cache import cache_stats, clear_cache, discovery, refresh_cache
from fleetgate.microshare.client import ServiceCredentialsRejected
from fleetgate.microshare.devices import get_cluster, get_device, list_clusters, list_devices
from fleetgate.microshare.schemas import Health, ServiceStatus, UpstreamHealth
from fleetgate.microshare.settings import get_erp_settings
from fleetgate.microshare.sync import erp_mapping, erp_points, erp_status, erp_sync, erp_unmapped, upload_points
from fleetgate.microshare.writes import create_device, delete_device, update_device

__all__ = [
    "AUDIENCE",
    "READ",
    "WRITE",
    "ServiceCredentialsRejected",
    "auth_status",
    "benchmark",
    "cache_stats",
    "clear_cache",
    "create_device",
    "delete_device",
    "discovery",
    "erp_mapping",
    "erp_points",
    "erp_status",
    "erp_sync",
    "erp_unmapped",
    "get_cluster",
    "get_device",
    "health",
    "list_clusters",
    "list_devices",
    "login",
    "refresh_cache",
    "status",
    "update_device",
    "upload_points",
    "upstream_health",
]

VERSION = "1.0.0"


def health(service: str = "microshare-erp") -> Health:
    return Health(service=service, version=VERSION, timestamp=now_iso())


def upstream_health() -> UpstreamHealth:
    """A real discovery call, timed. Never raises: the answer says what is wrong."""
    started = time.perf_counter()
    common: dict[str, Any] = {"timestamp": now_iso()}
    try:
        clusters = upstream.instance().discover()
    except ConfigurationError as exc:
        return UpstreamHealth(
            status="unhealthy", microshare_api="not_configured", authentication="unknown", error=exc.message, **common
        )
    except GatewayTimeout as exc:
        return UpstreamHealth(
            status="unhealthy", microshare_api="timeout", authentication="unknown", error=exc.message, **common
        )
    except upstream.ServiceCredentialsRejected as exc:
        return UpstreamHealth(
            status="unhealthy", microshare_api="connected", authentication="invalid", error=exc.message, **common
        )
    except upstream.Unreachable as exc:
        return UpstreamHealth(
            status="unhealthy", microshare_api="unreachable", authentication="unknown", error=exc.message, **common
        )
    except DomainError as exc:
        return UpstreamHealth(
            status="unhealthy", microshare_api="error", authentication="unknown", error=exc.message, **common
        )
    return UpstreamHealth(
        status="healthy",
        microshare_api="connected",
        authentication="valid",
        cluster_count=len(clusters),
        response_time_ms=round((time.perf_counter() - started) * 1000, 1),
        **common,
    )


def status() -> ServiceStatus:
    return ServiceStatus(
        version=VERSION,
        upstream=session(),
        cache=cache_stats(),
        erp_adapter=get_erp_settings().adapter,
        timestamp=now_iso(),
    )
