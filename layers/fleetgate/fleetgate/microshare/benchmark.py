"""The benchmark route: real upstream calls (authentication, discovery, one cluster read) timed against the cached
read they are saved by. Bounded in iterations and in time."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from fleetgate.core.errors import BadGateway, GatewayTimeout, NotFound
from fleetgate.microshare import client as upstream
from fleetgate.microshare import repository
from fleetgate.microshare.clusters import Cluster
from fleetgate.microshare.schemas import Benchmark, OperationTiming

BENCHMARK_BUDGET_SECONDS = 20.0


def benchmark(iterations: int) -> Benchmark:
    """Only 2xx answers count as successes; timeouts and connection failures are failures."""
    client = upstream.instance()
    client.require_configured()
    samples: dict[str, list[tuple[str, float]]] = {
        "authentication": [],
        "discovery": [],
        "cluster_read": [],
        "cached_read": [],
    }
    started = time.perf_counter()
    cluster: Cluster | None = None

    def timed(name: str, call: Callable[[], int | str]) -> None:
        t0 = time.perf_counter()
        try:
            outcome: int | str = call()
        except GatewayTimeout:
            outcome = "timeout"
        except (BadGateway, NotFound):
            outcome = "error"
        if outcome != "skipped":  # no cluster to read (discovery failed): nothing was timed
            samples[name].append((str(outcome), (time.perf_counter() - t0) * 1000))

    def discover() -> int:
        nonlocal cluster
        status, first = client.probe_discovery()
        cluster = cluster or first
        return status

    def read_cluster() -> int | str:
        return "skipped" if cluster is None else client.probe_cluster(cluster)

    def cached() -> int:
        repository.read_cache()
        return 200

    done = 0
    for _ in range(iterations):
        if time.perf_counter() - started > BENCHMARK_BUDGET_SECONDS:
            break
        timed("authentication", client.probe_auth)
        timed("discovery", discover)
        timed("cluster_read", read_cluster)
        timed("cached_read", cached)
        done += 1
    return Benchmark(
        iterations=done,
        total_ms=round((time.perf_counter() - started) * 1000, 1),
        operations={name: _timing(values) for name, values in samples.items()},
    )


def _timing(values: list[tuple[str, float]]) -> OperationTiming:
    statuses: dict[str, int] = {}
    for outcome, _ in values:
        statuses[outcome] = statuses.get(outcome, 0) + 1
    ok = [ms for outcome, ms in values if outcome.isdigit() and 200 <= int(outcome) < 300]
    times = [ms for _, ms in values]
    return OperationTiming(
        calls=len(values),
        successes=len(ok),
        failures=len(values) - len(ok),
        statuses=statuses,
        min_ms=round(min(times), 2) if times else None,
        max_ms=round(max(times), 2) if times else None,
        p50_ms=round(statistics.median(times), 2) if times else None,
        mean_ms=round(statistics.fmean(times), 2) if times else None,
    )
