"""The local cloud's files in its data directory (``.localcloud/`` by default).

- ``state.json``: where a running local cloud listens, written at start and removed at exit,
  so ``create-admin`` and ``invoke`` can find it;
- ``secrets.json``: generated secret values, kept so tokens stay valid across restarts;
- ``dynamodb/``: DynamoDB Local's files (``--dynamodb local``).
"""

from __future__ import annotations

import json
import os
import secrets
import string
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path(".localcloud")


def state_file(data_dir: Path) -> Path:
    return data_dir / "state.json"


def write_state(data_dir: Path, state: dict[str, Any]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_file(data_dir).with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(state_file(data_dir))


def remove_state(data_dir: Path) -> None:
    state_file(data_dir).unlink(missing_ok=True)


def running_state(data_dir: Path) -> dict[str, Any] | None:
    """The state of the local cloud running on ``data_dir``, or None (none written, or its process is gone)."""
    try:
        state = json.loads(state_file(data_dir).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return state if _alive(int(state.get("pid", 0))) else None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def secret_value(data_dir: Path, name: str, generate: dict[str, Any]) -> str:
    """The value of secret ``name``: generated once (per ``GenerateSecretString``), then read from secrets.json."""
    path = data_dir / "secrets.json"
    try:
        stored: dict[str, str] = json.loads(path.read_text())
    except FileNotFoundError:
        stored = {}
    if name not in stored:
        stored[name] = _generate(generate)
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2) + "\n")
    return stored[name]


def _generate(spec: dict[str, Any]) -> str:
    """A random value like Secrets Manager's GenerateSecretString (length, punctuation, template and key)."""
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    excluded = set(str(spec.get("ExcludeCharacters", "")))
    alphabet = "".join(c for c in alphabet if c not in excluded)
    value = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    if spec.get("SecretStringTemplate") and spec.get("GenerateStringKey"):
        return json.dumps({**json.loads(spec["SecretStringTemplate"]), spec["GenerateStringKey"]: value})
    return value
