"""Context boundaries, read from the layer's import graph (the source, not the running process).

- A context uses another only through its public modules: no module of one context imports another context's
  ``repository`` (its PynamoDB models and queries) or ``tables`` (models kept apart from the repository), whether by
  ``import``, ``from ... import`` or a name taken from one.
- Imports sit at the top of modules. Inside a function body only the heavy third-party modules of
  :data:`LAZY_ALLOWED` may be imported (each is named there with why): they would cost every function's cold start
  while only a few code paths need them.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

LAYER = Path(__file__).resolve().parent.parent / "layers" / "fleetgate"
PACKAGE = LAYER / "fleetgate"
SHARED = {"core"}  # plumbing every context builds on, not a context

# Imported inside function bodies on purpose: heavy, and only needed on a few paths (see shared/NOTES.md).
LAZY_ALLOWED = {
    "jwt": "PyJWT: only when a token is issued or checked (about 140 ms with its crypto backends)",
    "argon2": "argon2-cffi: only to hash or check a password",
    "httpx": "only the functions that call out (upstreams, integrations)",
    "httpcore": "httpx's transport: with httpx",
    "certifi": "the CA bundle: with httpx",
    "ssl": "TLS contexts: only when an upstream or integration is called",
    "quickjs": "the JavaScript sandbox: only to run or check user functions",
    "paho": "MQTT: only for MQTT integrations",
    "xmlrpc": "Odoo's XML-RPC: only with the Odoo ERP adapter",
    "xml": "expat errors of Odoo's XML-RPC: with xmlrpc",
    "aws_lambda_powertools.utilities.parameters": "Secrets Manager / SSM reads: only for secrets named by ARN",
    "botocore.config": "client configuration of the SQS and Scheduler clients: only when flow steps are sent",
    "aws_lambda_powertools.event_handler.openapi.models": "Powertools' OpenAPI models (about 270 ms): only the docs",
    "phonenumbers": "phone number metadata (about 100 ms): only the estates routes that read a phone number",
    "firebase_admin": "FCM (about 600 ms with google-auth and requests): only when a lock command is sent",
    "google.oauth2": "FCM's credentials: with firebase_admin",
    "requests": "FCM's HTTP session: with firebase_admin",
    "urllib3": "FCM's retry policy: with firebase_admin",
}


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(LAYER).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out.append((name, path))
    return out


MODULES = _modules()


def _context(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "fleetgate" else None


def _imported(node: ast.Import | ast.ImportFrom, module: str) -> list[str]:
    """The modules (and module.name) an import statement brings in, absolute."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".")[: -node.level] if not module.endswith("__init__") else module.split(".")
        base = ".".join([*package, base]) if base else ".".join(package)
    return [f"{base}.{alias.name}" for alias in node.names]


def _function_imports(tree: ast.Module) -> list[tuple[int, ast.Import | ast.ImportFrom]]:
    found = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    found.append((node.lineno, node))
    return found


def _allowed_lazily(name: str) -> bool:
    return any(name == allowed or name.startswith(allowed + ".") for allowed in LAZY_ALLOWED)


def _foreign_repository(importer: str, imported: str) -> bool:
    target = _context(imported)
    if target is None or target in SHARED or target == _context(importer):
        return False
    inside = imported[len(f"fleetgate.{target}") :]
    return ".repository" in inside or ".tables" in inside  # tables: a context's PynamoDB models, as private


def boundary_violations() -> list[str]:
    problems = []
    for module, path in MODULES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for imported in _imported(node, module):
                    if _foreign_repository(module, imported):
                        problems.append(f"{module}:{node.lineno} imports {imported}")
        for line, node in _function_imports(tree):
            for imported in _imported(node, module):
                top = imported if isinstance(node, ast.Import) else (node.module or "")
                if not (_allowed_lazily(top) or _allowed_lazily(imported)):
                    problems.append(f"{module}:{line} imports {imported} inside a function")
    return problems


def test_no_context_imports_another_contexts_repository_and_imports_sit_at_the_top():
    assert boundary_violations() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from fleetgate.devices import repository\n", "imports fleetgate.devices.repository"),
        ("from fleetgate.devices.repository import device_owners\n", "imports fleetgate.devices.repository"),
        ("import fleetgate.functions.repository as functions\n", "imports fleetgate.functions.repository"),
        ("def f():\n    from fleetgate.devices import service\n", "inside a function"),
        ("def f():\n    import boto3\n", "inside a function"),
    ],
)
def test_given_a_breach_the_check_reports_it(tmp_path, monkeypatch, source, expected):
    """The check itself: a flows module reaching into the devices repository (however it is written), or importing
    inside a function anything but an allowed heavy library, is reported."""
    path = tmp_path / "breach.py"
    path.write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "MODULES", [("fleetgate.flows.breach", path)])
    problems = boundary_violations()
    assert len(problems) == 1 and expected in problems[0], problems


def test_given_allowed_lazy_imports_and_own_repository_then_nothing_is_reported(tmp_path, monkeypatch):
    path = tmp_path / "fine.py"
    path.write_text(
        "from fleetgate.flows import repository\nfrom fleetgate.devices import service\n"
        "def f():\n    import quickjs\n    from argon2 import PasswordHasher\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "MODULES", [("fleetgate.flows.fine", path)])
    assert boundary_violations() == []
