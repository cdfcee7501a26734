"""What the per-request token check costs: one route, three ways, interleaved in one run.

- ``none``: the token's signature only (what main did before revocation existed);
- ``cached``: the check with this instance's copy of the user's record (every request but one a minute);
- ``read``: the check reading the record (one GetItem: once per user, instance and minute).

The route is GET /api/v1/devices/{device_id} (one GetItem of its own), in process on moto's ``mock_aws``, through
localcloud.lambdas.Functions.http with API Gateway v2 events; p50 per way, DynamoDB calls per request, and a bare
GetItem through the same moto as the floor.

Usage: .venv/bin/python bench/token_check.py [--requests 1800]
"""

from __future__ import annotations

import argparse
import statistics
import time

from _benchlib import Client, new_eui, quiet_stdout, register_user, set_process_env

from localcloud.template import stack as load_stack

STACK = load_stack()
set_process_env(STACK, endpoint=None)  # before any handler module is imported

import botocore.session  # noqa: E402

CALLS: list[str] = []
_create_client = botocore.session.Session.create_client


def _recording(self, name, *args, **kwargs):  # type: ignore[no-untyped-def]
    client = _create_client(self, name, *args, **kwargs)
    if name == "dynamodb":
        client.meta.events.register("before-call.dynamodb", lambda model, **_: CALLS.append(model.name))
    return client


botocore.session.Session.create_client = _recording  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1800, help="requests in all (a third per way)")
    args = parser.parse_args()
    import boto3
    from moto import mock_aws

    with mock_aws():
        STACK.create_tables(boto3.client("dynamodb", region_name=STACK.region))
        client = Client(STACK)
        with quiet_stdout():
            import fleetgate.core.api as core_api
            from fleetgate.core.auth import principal_from_headers
            from fleetgate.core.settings import table_name
            from fleetgate.users import authentication as users

            user = register_user(client)
            body = {"dev_eui": new_eui(), "name": "d"}
            device = client.ok("POST", "/api/v1/devices", 201, token=user["token"], json_body=body)
            checked = core_api._authenticate

            def unchecked(headers, audience):  # type: ignore[no-untyped-def]
                return principal_from_headers(headers, accept_audience=audience)

            times: dict[str, list[float]] = {"none": [], "cached": [], "read": []}
            calls: dict[str, list[str]] = {}
            for i in range(max(30, args.requests)):
                way = ("none", "cached", "read")[i % 3]
                core_api._authenticate = unchecked if way == "none" else checked  # type: ignore[assignment]
                if way == "read":
                    users._known().clear()  # this instance's copy has expired
                CALLS.clear()
                started = time.perf_counter()
                client.ok("GET", f"/api/v1/devices/{device['id']}", 200, token=user["token"])
                if i >= 30:  # warm-up
                    times[way].append((time.perf_counter() - started) * 1000)
                calls[way] = list(CALLS)
            core_api._authenticate = checked  # type: ignore[assignment]
            ddb = boto3.client("dynamodb", region_name=STACK.region)
            floor = []
            for _ in range(300):
                started = time.perf_counter()
                ddb.get_item(TableName=table_name("USERS_TABLE"), Key={"id": {"S": "none"}})
                floor.append((time.perf_counter() - started) * 1000)
    base = statistics.median(times["none"])
    print(
        f"GET /api/v1/devices/{{device_id}}, {len(times['none'])} requests per way; floor (bare GetItem) "
        f"p50 {statistics.median(floor):.2f} ms"
    )
    for way, values in times.items():
        p50 = statistics.median(values)
        print(f"  {way:7} p50 {p50:6.2f} ms  ({p50 - base:+.2f} ms)  DynamoDB calls: {', '.join(calls[way])}")


if __name__ == "__main__":
    main()
