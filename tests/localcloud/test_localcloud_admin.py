"""create-admin against a deployed stack: table names come from CloudFormation (here moto's)."""

from __future__ import annotations

import json
import os

import boto3
import pytest
from moto import mock_aws

from localcloud.admin import create_admin, deployed_environment
from localcloud.template import stack


@pytest.fixture
def restore_environment():
    """create_admin configures this process like the CLI does; put the test environment back afterwards."""
    from fleetgate.core import settings

    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    settings.reset()


@pytest.fixture
def deployed(tag):
    """A CloudFormation stack holding the template's tables, with generated physical names."""
    name = f"fleetgate-{tag}"
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name="eu-west-1")
        body = {"Resources": stack().resources_of("AWS::DynamoDB::Table")}
        cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(body))
        resources = cloudformation.describe_stack_resources(StackName=name)["StackResources"]
        yield name, {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}


def test_given_a_deployed_stack_when_resolving_its_environment_then_table_settings_hold_its_physical_names(deployed):
    name, physical = deployed

    env = deployed_environment(stack(), name, "eu-west-1")

    assert env["USERS_TABLE"] == physical["UsersTable"] != "fleetgate-local-UsersTable"
    assert env["DEVICE_HISTORY_TABLE"] == physical["DeviceHistoryTable"]
    assert env["AWS_REGION"] == "eu-west-1"
    assert "JWT_SECRET_ARN" not in env


def test_given_a_deployed_stack_when_creating_an_admin_then_it_lands_in_its_users_table_and_the_password_is_not_printed(
    deployed, tag, tmp_path, capsys, restore_environment
):
    name, physical = deployed
    password = f"pw-{tag}-secret"

    status = create_admin(
        f"root-{tag}@example.com", f"root_{tag}", password, data_dir=tmp_path, stack_name=name, region="eu-west-1"
    )

    out = capsys.readouterr()
    assert status == 0
    assert out.out.startswith(f"Created admin root_{tag} <root-{tag}@example.com>")
    assert password not in out.out + out.err
    claim = boto3.client("dynamodb", region_name="eu-west-1").get_item(
        TableName=physical["UniquesTable"], Key={"key": {"S": f"username#root_{tag}"}}
    )["Item"]
    user = boto3.client("dynamodb", region_name="eu-west-1").get_item(
        TableName=physical["UsersTable"], Key={"id": claim["owner_id"]}
    )["Item"]
    assert (user["email"]["S"], user["role"]["S"]) == (f"root-{tag}@example.com", "admin")


def test_given_no_running_local_cloud_and_no_stack_when_creating_an_admin_then_exit_2_saying_to_run_make_dev(
    tmp_path, capsys
):
    assert create_admin("a@example.com", "a_user", "whatever-pw", data_dir=tmp_path) == 2
    assert "make dev" in capsys.readouterr().err
