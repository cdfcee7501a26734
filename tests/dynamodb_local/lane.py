"""Whether the DynamoDB Local lane can run here: skip with the reason, or fail when CI requires every lane."""

from __future__ import annotations

import os

import pytest

from localcloud.dynamodb_local import available


def require_dynamodb_local() -> None:
    ok, reason = available()
    if ok:
        return
    if os.environ.get("FLEETGATE_REQUIRE_ALL_LANES") == "1":
        pytest.fail(f"FLEETGATE_REQUIRE_ALL_LANES=1 but {reason}")
    pytest.skip(reason)
