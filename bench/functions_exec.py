"""The cost of one user-function execution (fresh QuickJS context + call) for a small transform, as a ratio of a
floor measured in the same run: a json.loads + json.dumps round trip of the same payload.

Targets, each timed per execution (median, p99 over a bounded number of runs, interleaved in rounds so drift on
the machine hits every target alike):
- floor: ``json.dumps(json.loads(payload))``: what handing the message through any transform costs at least;
- bare quickjs: a new ``quickjs.Context``, the limits set, eval the code, JSON in, call, JSON out;
- sandbox.run: what the platform does per execution (fleetgate.functions.sandbox): the same plus the captured console,
  entry-point detection, the result checks and the log read-back;
- sandbox.check: what saving a function costs (compile and load in a fresh context, find the entry point).

Usage: .venv/bin/python bench/functions_exec.py [--runs 2000] [--max-seconds 60]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

from _benchlib import median, percentile, table

from fleetgate.functions import sandbox

CODE = """
function decodeUplink(message) {
  var out = {device: message.device_id, received_at: message.received_at, data: {}};
  out.data.temperature_c = message.data.temperature;
  out.data.temperature_f = message.data.temperature * 9 / 5 + 32;
  out.data.alarm = message.data.temperature > 8;
  return out;
}
"""
PAYLOAD = json.dumps(
    {
        "device_id": "3f2a9c1e-7b2d-4a8e-9c1f-0d2b3a4c5e6f",
        "dev_eui": "70b3d57ed0000001",
        "received_at": "2026-11-22T08:00:00.000Z",
        "f_cnt": 1234,
        "rssi": -87,
        "snr": 7.5,
        "data": {"temperature": 4.2, "humidity": 71, "battery": 3.61},
    }
)


def floor() -> None:
    json.dumps(json.loads(PAYLOAD))


def bare_quickjs() -> Callable[[], None]:
    import quickjs

    def run() -> None:
        ctx = quickjs.Context()
        ctx.set_time_limit(0.1)
        ctx.set_memory_limit(sandbox.MEMORY_LIMIT_BYTES)
        ctx.set_max_stack_size(sandbox.STACK_LIMIT_BYTES)
        ctx.eval(CODE)
        ctx.set("__in", PAYLOAD)
        json.loads(ctx.eval("JSON.stringify(decodeUplink(JSON.parse(__in)))"))

    return run


def platform_run() -> None:
    result = sandbox.run(CODE, json.loads(PAYLOAD), timeout_ms=100)
    if not result.ok:
        raise SystemExit(f"sandbox.run failed: {result.error}")


def platform_check() -> None:
    sandbox.check(CODE, 100)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000, help="timed executions per target")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time cap for the whole run")
    args = parser.parse_args()
    runs = max(10, min(args.runs, 100_000))
    targets: dict[str, Callable[[], None]] = {
        "floor: json.loads + json.dumps": floor,
        "bare quickjs: context + eval + call": bare_quickjs(),
        "sandbox.run (per execution)": platform_run,
        "sandbox.check (per save)": platform_check,
    }
    for fn in targets.values():  # warm-up: imports, caches
        for _ in range(20):
            fn()
    timings: dict[str, list[float]] = {name: [] for name in targets}
    started = time.monotonic()
    rounds, per_round = 0, 50
    while min(len(v) for v in timings.values()) < runs and time.monotonic() - started < args.max_seconds:
        for name, fn in targets.items():
            out = timings[name]
            for _ in range(per_round):
                t0 = time.perf_counter()
                fn()
                out.append((time.perf_counter() - t0) * 1e6)
        rounds += 1
    fl = median(timings["floor: json.loads + json.dumps"])
    print(
        f"Fleetgate function execution: {min(len(v) for v in timings.values())} timed runs per target in "
        f"{rounds} interleaved rounds, python {sys.version.split()[0]}, payload {len(PAYLOAD)} bytes"
    )
    print(f"FLOOR = {fl:.1f} us: json.loads + json.dumps of the same payload\n")
    rows = []
    for name, values in timings.items():
        med = median(values)
        rows.append([name, f"{med:.1f}", f"{percentile(values, 99):.1f}", f"{med / fl:.0f}x"])
    print(table(["target", "median us", "p99 us", "x floor"], rows))
    run_med = median(timings["sandbox.run (per execution)"])
    bare = median(timings["bare quickjs: context + eval + call"])
    print(
        f"\n  sandbox.run overhead over bare quickjs: {run_med - bare:.0f} us per execution "
        f"(console capture, entry-point detection, result checks)"
    )
    print(
        f"  one execution = {run_med / 1000:.2f} ms; at the 100 ms default limit the sandbox's own cost is "
        f"{run_med / 1000 / 100:.1%} of the budget"
    )
    print(f"\n({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
