"""Repository tests against DynamoDB Local, AWS's own engine (stricter than moto: key schemas, GSIs,
transactions, reserved words). One in-memory instance per session; skipped with the reason when
Java or the jar is missing (failed instead under FLEETGATE_REQUIRE_ALL_LANES=1, as in CI).

Only tests in this directory see ``AWS_ENDPOINT_URL_DYNAMODB``: it is set per test and removed after,
so the moto-based tests in the same session keep their in-process mock.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest

from localcloud.dynamodb_local import DynamoDBLocal
from localcloud.template import stack
from tests.dynamodb_local.lane import require_dynamodb_local


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    require_dynamodb_local()
    with DynamoDBLocal() as engine:
        client = boto3.client("dynamodb", endpoint_url=engine.endpoint, region_name="us-east-1")
        stack().create_tables(client)
        yield engine


@pytest.fixture(autouse=True)
def _real_engine(dynamodb_local: DynamoDBLocal, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from fleetgate.core import settings

    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local.endpoint)
    settings.reset()  # models and their connections are rebuilt for this endpoint
    yield
    settings.reset()


@pytest.fixture
def owner() -> str:
    """An owner id unique to the test: the in-memory tables are shared by the whole session."""
    return f"owner-{uuid.uuid4()}"
