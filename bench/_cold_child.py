"""One measured cold start. Run by bench/cold_start.py with the runtime-only venv's python, never imported.

Standard library only before the measured part. argv[1] is a JSON spec file; the report goes to the
file descriptor in BENCH_RESULT_FD as one JSON line, so the function's own stdout (Powertools logs and
metrics) cannot be mistaken for it. Modes:

- ``floor``: import botocore, create one DynamoDB client, one GetItem;
- ``stack``: the same after importing the stack every API function is built on (PynamoDB, a Powertools
  HTTP resolver with validation, its Logger, pydantic), and none of our code: the part of a cold start
  our code cannot remove;
- ``function``: import the handler module, then handle one event (API Gateway v2, SQS or scheduled); an
  HTTP result must have ``expect_status``, another must hold the fields of ``expect_result``.
"""

import os
import sys
import time

T_START = time.perf_counter()

import json  # noqa: E402  (both modes pay for it: it reads the spec)

WATCH = (
    "aws_xray_sdk",
    "firebase_admin",
    "quickjs",
    "cryptography",
    "boto3",
    "httpx",
    "rich",
    "yaml",
    "moto",
    "argon2",
    "jwt",
    "pydantic",
    "pynamodb",
    "aws_lambda_powertools",
    "botocore",
)


class Context:
    """Enough of Lambda's context object for Powertools."""

    def __init__(self, name: str, memory: int, timeout: int) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.memory_limit_in_mb = memory
        self.aws_request_id = "00000000-0000-4000-8000-000000000000"
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "bench"
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    t_spec = time.perf_counter()
    detail = ""
    if spec["mode"] in ("floor", "stack"):
        import botocore.session

        if spec["mode"] == "stack":
            import pynamodb.models  # noqa: F401
            from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
            from aws_lambda_powertools.logging import Logger
            from pydantic import BaseModel  # noqa: F401

            Logger()
            APIGatewayHttpResolver(enable_validation=True)

        t_init = time.perf_counter()
        # Client creation belongs to the first call, as for the functions (PynamoDB creates it on first use).
        client = botocore.session.get_session().create_client("dynamodb")
        resp = client.get_item(TableName=spec["table"], Key=spec["key"])
        status = resp["ResponseMetadata"]["HTTPStatusCode"]
        ok = status == 200 and "Item" in resp
    else:
        event = spec["event"]
        if spec.get("fresh_uuid"):  # a new uplink / run in every process, so none is a duplicate of the last
            import uuid

            event = json.loads(json.dumps(event).replace("{{uuid}}", str(uuid.uuid4())))
        # A plain import statement's path (not importlib.import_module), so -X importtime reports the module.
        __import__(spec["module"])
        handler = getattr(sys.modules[spec["module"]], spec["attribute"])
        t_init = time.perf_counter()
        result = handler(event, Context(spec["function_name"], spec["memory"], spec["timeout"]))
        if "expect_result" in spec:  # an SQS or scheduled event: the result's fields
            status = "event"
            ok = isinstance(result, dict) and all(result.get(k) == v for k, v in spec["expect_result"].items())
        else:
            status = result.get("statusCode") if isinstance(result, dict) else None
            ok = status == spec["expect_status"]
        if not ok:
            detail = str(result)[:500]
    t_done = time.perf_counter()
    loaded = sorted({m.split(".", 1)[0] for m in sys.modules} & set(WATCH))
    report = {
        "ok": ok,
        "status": status,
        "detail": detail,
        "prologue_ms": (t_spec - T_START) * 1000,
        "init_ms": (t_init - t_spec) * 1000,
        "first_call_ms": (t_done - t_init) * 1000,
        "in_process_ms": (t_done - T_START) * 1000,
        # CPU of the whole process (interpreter start included): unlike wall time, it does not grow when other
        # work competes for the cores, nor with the moto round trips
        "cpu_ms": time.process_time() * 1000,
        "modules": len(sys.modules),
        "loaded": loaded,
    }
    os.write(int(os.environ["BENCH_RESULT_FD"]), json.dumps(report).encode() + b"\n")


main()
