"""DynamoDB Local availability: the reason says how to get what is missing; CI can require the lane."""

from __future__ import annotations

import pytest

from localcloud import dynamodb_local
from tests.dynamodb_local.lane import require_dynamodb_local


def test_given_no_java_when_checking_then_unavailable_with_how_to_install_it(monkeypatch):
    monkeypatch.setattr(dynamodb_local.shutil, "which", lambda name: None)

    ok, reason = dynamodb_local.available()

    assert not ok
    assert "apt-get install -y openjdk-17-jre-headless" in reason and "make install" in reason


def test_given_no_jar_when_checking_then_unavailable_naming_its_path(monkeypatch, tmp_path):
    monkeypatch.setattr(dynamodb_local.shutil, "which", lambda name: "/usr/bin/java")
    monkeypatch.setattr(dynamodb_local, "JAR", dynamodb_local.ROOT / "node_modules" / "missing" / "DynamoDBLocal.jar")

    ok, reason = dynamodb_local.available()

    assert not ok
    assert "node_modules/missing/DynamoDBLocal.jar" in reason and "make install" in reason


def test_given_dynamodb_local_missing_when_a_lane_needs_it_then_skip_or_fail_when_ci_requires_every_lane(monkeypatch):
    monkeypatch.setattr("tests.dynamodb_local.lane.available", lambda: (False, "no java here"))

    monkeypatch.delenv("FLEETGATE_REQUIRE_ALL_LANES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no java here"):
        require_dynamodb_local()

    monkeypatch.setenv("FLEETGATE_REQUIRE_ALL_LANES", "1")
    with pytest.raises(pytest.fail.Exception, match="no java here"):
        require_dynamodb_local()


def test_given_it_is_unavailable_when_starting_then_the_error_is_the_reason(monkeypatch):
    monkeypatch.setattr(dynamodb_local, "available", lambda: (False, "install Java 17"))

    with pytest.raises(RuntimeError, match="install Java 17"):
        dynamodb_local.DynamoDBLocal()
