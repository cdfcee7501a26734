"""``python -m localcloud invoke <LogicalId> <event.json>``: one function, one event, result JSON on stdout.

Against the running local cloud when there is one (its state.json), else against an embedded
moto started for this one call. Handler logs and metrics go to stderr, so stdout holds only the
result. A ``{{token}}`` in the event becomes a bearer token signed with the local JWT secret
(``--user-id``, ``--role``), and ``{{ingest_key}}`` a new ingest key (X-API-Key) of that user, so the events/
files work as they are.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from localcloud.cloud import LocalCloud, apply_environment, client_environment, local_stack
from localcloud.lambdas import Functions, ensure_import_paths
from localcloud.state import running_state

log = logging.getLogger("localcloud")

TOKEN_PLACEHOLDER = "{{token}}"
INGEST_KEY_PLACEHOLDER = "{{ingest_key}}"


def invoke(
    logical_id: str, event_file: str, *, data_dir: Path, user_id: str = "local-dev-user", role: str = "user"
) -> int:
    state = running_state(data_dir.resolve())
    # The running cloud's fake FCM (or the FcmEndpoint it was given), so a lock command sent here arrives there.
    stack = local_stack(
        overrides={"FcmEndpoint": state["fcm_endpoint"]} if state and state.get("fcm_endpoint") else None
    )
    if logical_id not in stack.functions:
        print(f"No function {logical_id} in template.yaml; there are: {', '.join(stack.functions)}", file=sys.stderr)
        return 2
    try:
        event_text = sys.stdin.read() if event_file == "-" else Path(event_file).read_text()
    except OSError as exc:
        print(f"Cannot read {event_file}: {exc.strerror}", file=sys.stderr)
        return 2

    with _result_stream() as out, contextlib.ExitStack() as cleanup:
        if state:
            log.info("invoking %s against the local cloud at %s", logical_id, state["api_url"])
            apply_environment(client_environment(stack, state["endpoint"], state.get("dynamodb_endpoint")))
        else:
            log.info("no local cloud is running: starting an embedded moto for this call (its data is discarded)")
            cloud = cleanup.enter_context(LocalCloud(stack, data_dir))
            log.info("moto at %s", cloud.endpoint)
        if TOKEN_PLACEHOLDER in event_text:
            event_text = event_text.replace(TOKEN_PLACEHOLDER, _token(user_id, role))
            log.info("%s replaced by a token for user %s (role %s)", TOKEN_PLACEHOLDER, user_id, role)
        if INGEST_KEY_PLACEHOLDER in event_text:
            event_text = event_text.replace(INGEST_KEY_PLACEHOLDER, _ingest_key(user_id))
            log.info("%s replaced by a new ingest key of user %s", INGEST_KEY_PLACEHOLDER, user_id)
        try:
            event = json.loads(event_text)
        except ValueError as exc:
            print(f"{event_file} is not JSON: {exc}", file=sys.stderr)
            return 2
        try:
            result: Any = Functions(stack).invoke(logical_id, event)
            status = 0
        except Exception as exc:
            traceback.print_exc()
            result = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }  # what Lambda answers
            status = 1
        print(json.dumps(result, indent=2, default=str), file=out)
    return status


def _token(user_id: str, role: str) -> str:
    """A token of ``user_id`` in the target cloud; the user is created (or given ``role``) there first, with every
    partner permission, since every request's token is checked against its user's record."""
    ensure_import_paths()
    from fleetgate.core import settings
    from fleetgate.users import service

    settings.reset()
    return service.local_token(user_id, role)


def _ingest_key(user_id: str) -> str:
    """A new X-API-Key of ``user_id`` in the target cloud (listed under their ingest keys as "make invoke")."""
    ensure_import_paths()
    from fleetgate.core import settings
    from fleetgate.core.auth import Principal
    from fleetgate.ingest import keys
    from fleetgate.ingest.schemas import IngestKeyCreate

    settings.reset()
    return keys.create_key(Principal(user_id, "user"), IngestKeyCreate(name="make invoke")).key


@contextlib.contextmanager
def _result_stream() -> Iterator[IO[str]]:
    """Point file descriptor 1 at stderr (Powertools loggers hold sys.stdout) and yield the real stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    out = os.fdopen(os.dup(saved), "w")
    try:
        yield out
    finally:
        out.close()
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
