"""DynamoDB Local (AWS's own engine, Java) from npm's amplify-dynamodb-simulator, started and stopped on demand.

    ok, reason = available()
    with DynamoDBLocal() as ddb:                        # -inMemory
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = ddb.endpoint
    DynamoDBLocal(data_dir=Path(".localcloud/dynamodb"))  # kept between runs

Start-up takes 6-10 s. The Java process is tied to this one: it is stopped by
:meth:`DynamoDBLocal.stop`, at interpreter exit, and (Linux) by the kernel if
the Python thread that started it dies. DynamoDB Local has no bind-address
option: it listens on every interface of the machine.
"""

from __future__ import annotations

import atexit
import ctypes
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

from localcloud.net import free_port, wait_for_http
from localcloud.template import ROOT

EMULATOR = ROOT / "node_modules" / "amplify-dynamodb-simulator" / "emulator"
JAR = EMULATOR / "DynamoDBLocal.jar"
INSTALL_JAVA = "install Java 17 (apt-get install -y openjdk-17-jre-headless)"
INSTALL_JAR = "run `make install` (it unpacks npm's amplify-dynamodb-simulator into node_modules/)"


def available() -> tuple[bool, str]:
    """Whether Java and the DynamoDB Local jar are present; the reason says what is missing and how to get it."""
    if shutil.which("java") is None:
        return False, f"DynamoDB Local needs java on PATH: {INSTALL_JAVA} and {INSTALL_JAR}"
    if not JAR.is_file():
        return False, f"DynamoDB Local jar not found at {JAR.relative_to(ROOT)}: {INSTALL_JAR}"
    return True, f"DynamoDB Local at {JAR.relative_to(ROOT)}"


_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None  # resolved before any fork
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the kernel sends the child SIGTERM when the thread that started it exits (a crash, a kill -9)."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class DynamoDBLocal:
    """A running DynamoDB Local on 127.0.0.1:``port``. ``data_dir=None`` keeps tables in memory only."""

    def __init__(self, data_dir: Path | str | None = None, port: int | None = None, *, startup_timeout: float = 60.0):
        ok, reason = available()
        if not ok:
            raise RuntimeError(reason)
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.data_dir = Path(data_dir).resolve() if data_dir else None
        if self.data_dir:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            storage = ["-dbPath", str(self.data_dir)]
        else:
            storage = ["-inMemory"]
        self._output = tempfile.TemporaryFile()
        self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
            [
                "java",
                "-Djava.library.path=./DynamoDBLocal_lib",
                "-jar",
                JAR.name,
                "-sharedDb",
                *storage,
                "-port",
                str(self.port),
                "-disableTelemetry",
            ],
            cwd=EMULATOR,
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        atexit.register(self.stop)
        if not wait_for_http(self.port, timeout=startup_timeout, alive=self.running):
            output = self.output()
            self.stop()
            raise RuntimeError(
                f"DynamoDB Local did not answer on port {self.port} "
                f"within {startup_timeout:.0f} s. Its output:\n{output}"
            )

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def output(self) -> str:
        self._output.seek(0)
        return self._output.read().decode(errors="replace")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._output.close()

    def __enter__(self) -> DynamoDBLocal:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.data_dir or "memory"
        return f"DynamoDBLocal({self.endpoint}, data in {where}, {'running' if self.running() else 'stopped'})"
