"""Fixtures of the local cloud's own tests: the fixture template's stack, in a fresh in-process moto account."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localcloud.lambdas import Functions
from localcloud.template import Stack, stack

FIXTURE_TEMPLATE = Path(__file__).parent / "fixtures" / "template.yaml"


@dataclass
class FixtureCloud:
    stack: Stack
    functions: Functions
    sqs: Any
    scheduler: Any
    queue_urls: dict[str, str]


@pytest.fixture
def fixture_stack() -> Stack:
    return stack(FIXTURE_TEMPLATE)


@pytest.fixture
def fixture_cloud(fixture_stack: Stack):
    """The fixture template's queues in a fresh moto account, and its functions ready to invoke."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        sqs = boto3.client("sqs", region_name=fixture_stack.region)
        yield FixtureCloud(
            stack=fixture_stack,
            functions=Functions(fixture_stack),
            sqs=sqs,
            scheduler=boto3.client("scheduler", region_name=fixture_stack.region),
            queue_urls=fixture_stack.create_queues(sqs),
        )


@pytest.fixture
def tag() -> str:
    """A value unique to the test, for message bodies and names."""
    return uuid.uuid4().hex[:10]
