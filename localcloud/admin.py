"""``python -m localcloud create-admin``: the spec's create_admin_user, against the local cloud or a deployed stack.

The password is never printed, logged or echoed in an error.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Any

from localcloud.cloud import apply_environment, client_environment, local_stack
from localcloud.lambdas import ensure_import_paths
from localcloud.state import running_state
from localcloud.template import Stack


def create_admin(
    email: str,
    username: str,
    password: str | None,
    *,
    data_dir: Path,
    stack_name: str | None = None,
    region: str | None = None,
) -> int:
    if stack_name:
        target = f"stack {stack_name}"
        os.environ.update(deployed_environment(local_stack(), stack_name, region))
    else:
        state = running_state(data_dir.resolve())
        if state is None:
            print(
                f"No local cloud is running (no live {data_dir / 'state.json'}): run `make dev` first, "
                "or pass --stack NAME for a deployed stack.",
                file=sys.stderr,
            )
            return 2
        target = f"the local cloud at {state['api_url']}"
        apply_environment(client_environment(local_stack(), state["endpoint"], state.get("dynamodb_endpoint")))

    if password is None:
        password = getpass.getpass(f"Password for {username}: ")
    ensure_import_paths()
    from pydantic import ValidationError

    from fleetgate.core import settings
    from fleetgate.core.errors import DomainError
    from fleetgate.users import service

    settings.reset()
    try:
        user, created = service.create_admin(email, username, password)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        print(f"Invalid input: {problems}", file=sys.stderr)  # no input values: one of them is the password
        return 1
    except DomainError as exc:
        print(f"Not created: {exc.message}", file=sys.stderr)
        return 1
    verb = "Created admin" if created else "Promoted existing user to admin:"
    print(f"{verb} {user.username} <{user.email}> (id {user.id}) in {target}")
    return 0


def deployed_environment(stack: Stack, stack_name: str, region: str | None) -> dict[str, str]:
    """The table-name settings (USERS_TABLE, ...) of a deployed stack, read from CloudFormation, plus its region."""
    import boto3

    session = boto3.session.Session(region_name=region)
    if not session.region_name:
        raise SystemExit("No AWS region: pass --region or set AWS_REGION.")
    physical = _physical_ids(session.client("cloudformation"), stack_name)
    local_names = {stack.physical_name(t): t for t in stack.resources_of("AWS::DynamoDB::Table")}
    env = {
        var: physical[local_names[value]]
        for var, value in stack.environment().items()
        if value in local_names and local_names[value] in physical
    }
    missing = set(local_names.values()) - set(physical)
    if missing:
        raise SystemExit(f"Stack {stack_name} has no {', '.join(sorted(missing))}: is it a Fleetgate stack?")
    return {**env, "AWS_REGION": session.region_name, "AWS_DEFAULT_REGION": session.region_name}


def _physical_ids(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """Logical id → physical id. ListStackResources pages; DescribeStackResources stops at 100 resources."""
    out = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for resource in page["StackResourceSummaries"]:
            out[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
    return out
