"""One measured cold start. Run by bench/cold_start.py with the runtime-only venv's python, never imported.

Standard library only before the measured part. argv[1] is a JSON spec file; the report goes to the
file descriptor in BENCH_RESULT_FD as one JSON line, so the function's own stdout (Powertools logs and
metrics) cannot be mistaken for it. Modes:

- ``floor``: import botocore, create one DynamoDB client, one GetItem;
- ``stack``: the same after importing the stack every API function is built on (PynamoDB, a Powertools
  HTTP resolver with validation, its Logger, pydantic), and none of our code: the part of a cold start
  our code cannot remove; with ``libraries``, also the first use of those mandated libraries (:data:`LIBRARIES`),
  the baseline of a function whose first request needs them;
- ``function``: import the handler module, then handle one event (API Gateway v2, SQS or scheduled); an
  HTTP result must have ``expect_status``, another must hold the fields of ``expect_result``.

After the report, each mode makes its call once more, warm, and reports how long that took on a second line.
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
    "phonenumbers",
    "aws_lambda_powertools",
    "botocore",
)


def _httpx() -> None:
    """The least an HTTPS client with httpx costs: httpx and httpcore without their optional HTTP/2 and async parts
    (hidden as fleetgate.core.imports hides them), and one TLS context on certifi's trust store."""
    import ssl

    for name in ("h2", "anyio"):
        sys.modules[name] = None  # type: ignore[assignment]
    import certifi
    import httpcore  # noqa: F401
    import httpx  # noqa: F401

    for name in ("h2", "anyio"):
        del sys.modules[name]
    ssl.create_default_context(cafile=certifi.where())


def _phonenumbers() -> None:
    """A number parsed and validated: the package's import and the first region's metadata."""
    import phonenumbers

    phonenumbers.is_valid_number(phonenumbers.parse("+27821234567", "ZA"))


def _argon2() -> None:
    """argon2-cffi's import (a hash's verification is the request's work: it is paid warm as well)."""
    import argon2  # noqa: F401


def _firebase() -> None:
    """firebase-admin's messaging and an app (credentials are the function's own business)."""
    import firebase_admin
    import requests.adapters  # noqa: F401
    from firebase_admin import credentials, messaging  # noqa: F401
    from google.oauth2.credentials import Credentials

    class Token(credentials.Base):
        def get_credential(self):
            return Credentials(token="bench")

    firebase_admin.initialize_app(Token(), {"projectId": "bench"})


# The mandated libraries a function's first request may need beyond the stack, each as that first use costs.
LIBRARIES = {"httpx": _httpx, "phonenumbers": _phonenumbers, "argon2": _argon2, "firebase": _firebase}


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
    if spec["mode"] in ("floor", "stack"):
        import botocore.session

        if spec["mode"] == "stack":
            import pynamodb.models  # noqa: F401
            from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
            from aws_lambda_powertools.logging import Logger
            from pydantic import BaseModel  # noqa: F401

            Logger()
            APIGatewayHttpResolver(enable_validation=True)
            for name in spec.get("libraries", ()):
                LIBRARIES[name]()

        t_init = time.perf_counter()
        # Client creation belongs to the first call, as for the functions (PynamoDB creates it on first use).
        client = botocore.session.get_session().create_client("dynamodb")

        def call() -> tuple[bool, object, str]:
            resp = client.get_item(TableName=spec["table"], Key=spec["key"])
            status = resp["ResponseMetadata"]["HTTPStatusCode"]
            return status == 200 and "Item" in resp, status, ""

        ok, status, detail = call()
    else:
        # A plain import statement's path (not importlib.import_module), so -X importtime reports the module.
        __import__(spec["module"])
        handler = getattr(sys.modules[spec["module"]], spec["attribute"])
        context = Context(spec["function_name"], spec["memory"], spec["timeout"])

        def call() -> tuple[bool, object, str]:
            event = spec["event"]
            if spec.get("fresh_uuid"):  # a new uplink / run in every call, so none is a duplicate of the last
                import uuid

                event = json.loads(json.dumps(event).replace("{{uuid}}", str(uuid.uuid4())))
            result = handler(event, context)
            if "expect_result" in spec:  # an SQS or scheduled event: the result's fields
                status = "event"
                ok = isinstance(result, dict) and all(result.get(k) == v for k, v in spec["expect_result"].items())
            else:
                status = result.get("statusCode") if isinstance(result, dict) else None
                ok = status == spec["expect_status"]
            return ok, status, "" if ok else str(result)[:500]

        t_init = time.perf_counter()
        ok, status, detail = call()
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
    fd = int(os.environ["BENCH_RESULT_FD"])
    os.write(fd, json.dumps(report).encode() + b"\n")
    # Then, untimed by the parent (it has its report): the same request again in the now warm process, which is
    # what the request costs without a cold start (a password hash's work, the DynamoDB round trips).
    t_warm, cpu_warm = time.perf_counter(), time.process_time()
    warm_ok, _, _ = call() if ok else (False, None, "")
    warm = {"warm_ms": (time.perf_counter() - t_warm) * 1000, "warm_cpu_ms": (time.process_time() - cpu_warm) * 1000}
    os.write(fd, json.dumps(warm if warm_ok else {"warm_ms": None}).encode() + b"\n")


main()
