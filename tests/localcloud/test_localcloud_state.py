"""The data directory: state.json liveness, persisted secrets, and the JWT secret in Secrets Manager."""

from __future__ import annotations

import os
import stat
import string
import subprocess
import sys

import boto3
from moto import mock_aws

from localcloud.cloud import create_secrets
from localcloud.state import remove_state, running_state, secret_value, write_state
from localcloud.template import stack


def test_given_no_state_file_when_asking_for_a_running_cloud_then_none(tmp_path):
    assert running_state(tmp_path) is None


def test_given_a_state_file_of_a_dead_process_when_asking_then_none(tmp_path):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    write_state(tmp_path, {"endpoint": "http://127.0.0.1:1", "pid": finished.pid})

    assert running_state(tmp_path) is None


def test_given_a_state_file_of_a_live_process_when_asking_then_its_state_until_removed(tmp_path):
    state = {
        "endpoint": "http://127.0.0.1:1",
        "dynamodb_endpoint": "http://127.0.0.1:1",
        "api_url": "http://127.0.0.1:3000",
        "pid": os.getpid(),
    }
    write_state(tmp_path, state)

    assert running_state(tmp_path) == state
    remove_state(tmp_path)
    assert running_state(tmp_path) is None


def test_given_a_generated_secret_when_asked_twice_then_the_same_value_is_kept_privately(tmp_path):
    spec = {"PasswordLength": 64, "ExcludePunctuation": True}

    first = secret_value(tmp_path, "JwtSecret", spec)

    assert len(first) == 64 and set(first) <= set(string.ascii_letters + string.digits)
    assert secret_value(tmp_path, "JwtSecret", spec) == first
    assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600


def test_given_the_template_secret_when_created_then_functions_read_it_by_the_arn_in_their_environment(tmp_path):
    local = stack(parameters={"Stage": "local"})
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")

        arns = create_secrets(local, client, tmp_path)
        create_secrets(local, client, tmp_path)  # a restart

        arn = local.functions["AuthFunction"].environment["JWT_SECRET_ARN"]
        assert arns == {
            "JwtSecret": arn,
            "IngestKeySecret": local.functions["IngestFunction"].environment["INGEST_KEY_SECRET_ARN"],
        }
        value = client.get_secret_value(SecretId=arn)["SecretString"]
    assert value == secret_value(tmp_path, "JwtSecret", {}) and len(value) == 64
