"""Start ``python -m localcloud serve`` as a real process and stop it, always."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from localcloud.template import ROOT
from tests.support import STACK


def cli_environment() -> dict[str, str]:
    """The developer's shell, minus what the test session adds (the template's environment, secrets): the local
    cloud must use its own secret and take its settings from the template, its parameters and the real shell."""
    env = dict(os.environ)
    session = ("JWT_SECRET", "JWT_SECRET_ARN", "STAGE", "INGEST_KEY_SECRET", "RATE_LIMITS_TABLE")
    for var in (*session, *STACK.environment()):
        env.pop(var, None)
    return env


def run_cli(*args: str, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localcloud", *args],
        cwd=ROOT,
        env=cli_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


@dataclass
class RunningCloud:
    url: str  # the main HTTP API's
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path
    apis: dict[str, str] = field(default_factory=dict)  # every HTTP API's URL, by logical id

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM (a clean stop, like Ctrl-C), then kill if it hangs; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_cloud(
    data_dir: Path, *extra: str, timeout: float = 90, env: dict[str, str] | None = None, demo: bool = False
) -> RunningCloud:
    """``serve --port 0`` (every HTTP API on a free port), ready once state.json names them and the main API answers.
    ``env``: variables added to the shell it starts from; ``demo``: seed the demo (else ``--no-demo``)."""
    extra = extra if demo else (*extra, "--no-demo")
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "serve.log"
    with log.open("wb") as sink:  # a file, not a pipe nobody reads, which would fill and block the server
        process = subprocess.Popen(
            [sys.executable, "-m", "localcloud", "serve", "--port", "0", "--data-dir", str(data_dir), *extra],
            cwd=ROOT,
            env={**cli_environment(), **(env or {})},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    cloud = RunningCloud("", data_dir, process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the local cloud exited with {process.returncode}:\n{cloud.output()}")
        try:
            state = state_of(data_dir)
            cloud.url, cloud.apis = state["api_url"], state["apis"]
            if httpx.get(f"{cloud.url}/openapi.json", timeout=2).status_code == 200:
                return cloud
        except (FileNotFoundError, ValueError, KeyError, httpx.TransportError):
            pass
        time.sleep(0.2)
    cloud.stop()
    pytest.fail(f"the local cloud did not answer within {timeout} s:\n{cloud.output()}")


@pytest.fixture(scope="module")
def local_cloud(tmp_path_factory) -> Iterator[RunningCloud]:
    cloud = start_cloud(tmp_path_factory.mktemp("localcloud"))
    try:
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture
def http(local_cloud) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=local_cloud.url, timeout=30) as client:
        yield client


def state_of(data_dir: Path) -> dict:
    return json.loads((data_dir / "state.json").read_text())


def searched(http, auth: dict, query: str, *, until: float = 15.0) -> list[str]:
    """The names a search finds, asked again until something is found (the stream mapping polls about twice a
    second) or ``until`` seconds pass."""
    deadline = time.monotonic() + until
    while True:
        reply = http.get("/api/v1/search", params={"query": query}, headers=auth)
        assert reply.status_code == 200, reply.text
        names = [hit["name"] for hit in reply.json()["items"]]
        if names or time.monotonic() > deadline:
            return names
        time.sleep(0.2)


def ok(reply: httpx.Response, status: int = 200) -> Any:
    """The reply's JSON (None when empty), after asserting its status."""
    assert reply.status_code == status, (reply.request.url, reply.status_code, reply.text)
    return reply.json() if reply.content else None


def wait_for(check: Callable[[], Any], *, timeout: float = 30, what: str = "the condition") -> Any:
    """``check()``'s first truthy value, polled every 0.2 s for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
