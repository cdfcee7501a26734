"""Settings per function: each function's entry in template.yaml sets exactly the tables and settings its code reads.

The code of a function is its handler module and everything of the layer that code can reach: a static walk over
the source (no import, no environment: tests/conftest.py sets every variable for the whole test process, so the
process cannot tell). What runs when a module is imported (the calls in its top-level statements, decorators, base
classes) is reachable, and so is every function, class (with all its methods) and module-level value that
reachable code names, following ``import`` and ``from ... import`` into the layer. Annotations are not code.
What reachable code reads from the environment: ``table_name("X_TABLE")``, core.settings' ``env*("X")`` (and
financing's bounded ``_env_int``) and ``os.environ`` / ``os.getenv`` with a literal name.

A variable is a template setting when some function's entry (or Globals) sets it; the rest (JWT_ISSUER,
OFFLINE_SHARDS, ...) are code defaults nobody needs to set. The test fails when a function reads a template setting
its entry does not set, when an entry sets a variable its code never reads, and when Globals carries anything but
the deployment-wide names (no tables, no credentials).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from localcloud.template import ROOT
from tests.support import STACK

LAYER = ROOT / "layers" / "fleetgate"
ENV_READERS = {"env", "env_int", "env_float", "env_opt", "env_list", "_env_int", "table_name", "getenv"}
DEPLOYMENT_WIDE = {"STAGE", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOGGER_LOG_EVENT"}
POWERTOOLS = ("POWERTOOLS_",)  # Powertools' own settings (service name, ...): not ours to trace


@dataclass
class Module:
    name: str
    tree: ast.Module
    defs: dict[str, ast.AST] = field(default_factory=dict)  # top-level functions, classes and assigned values
    names: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # imported name → (module, attribute)


def _module_file(name: str) -> Path | None:
    base = LAYER if name.startswith("fleetgate") else ROOT
    path = base.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


class Reach:
    """What a handler module's code can reach, and the environment variables that code reads."""

    def __init__(self) -> None:
        self.modules: dict[str, Module | None] = {}
        self.done: set[tuple[str, str | None]] = set()  # (module, top-level def) visited; None: the module body
        self.reads: set[str] = set()

    def module(self, name: str) -> Module | None:
        if name not in self.modules:
            path = _module_file(name)
            self.modules[name] = None if path is None else self._parse(name, ast.parse(path.read_text()))
        return self.modules[name]

    def _parse(self, name: str, tree: ast.Module) -> Module:
        mod = Module(name, tree)
        package = name if _module_file(name) and _module_file(name).name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    mod.names[alias.asname or alias.name.split(".")[0]] = (alias.name, None)
            elif isinstance(node, ast.ImportFrom):
                source = node.module or ""
                if node.level:
                    source = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [source])
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    target = (submodule, None) if _module_file(submodule) else (source, alias.name)
                    mod.names[alias.asname or alias.name] = target
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                mod.defs[node.name] = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if isinstance(target, ast.Name):
                        mod.defs[target.id] = node.value
        return mod

    def visit(self, module: str, name: str | None = None) -> None:
        if (module, name) in self.done or not module.startswith(("fleetgate", "functions")):
            return
        self.done.add((module, name))
        mod = self.module(module)
        if mod is None:
            return
        if name is None:  # importing the module: what its top level calls, its decorators and base classes
            body: list[ast.AST] = []
            for node in mod.tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    body.extend(node.decorator_list)
                    body.extend(getattr(node, "bases", []))
                elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.Expr)):
                    body.extend(n for n in ast.walk(node.value) if isinstance(n, ast.Call)) if node.value else None
                elif not isinstance(node, (ast.Import, ast.ImportFrom)):
                    body.append(node)
            if module.startswith("functions."):  # a handler module: every route and handler is an entry point
                body.extend(n for n in mod.tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
        else:
            if name not in mod.defs:
                if name in mod.names:  # re-exported
                    self.visit(*mod.names[name])
                return
            body = [mod.defs[name]]
        for stmt in body:
            self._scan(mod, stmt)

    def _scan(self, mod: Module, root: ast.AST) -> None:
        local = _locals(root)
        for node in _code(root):
            if isinstance(node, ast.Name) and node.id in local:
                continue
            if isinstance(node, ast.Call):
                self._env_read(node)
            elif isinstance(node, ast.Subscript):
                target = node.value
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "environ"
                    and isinstance(node.slice, ast.Constant)
                ):
                    self.reads.add(str(node.slice.value))
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                self._follow(mod, node.id, None)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                self._follow(mod, node.value.id, node.attr)

    def _env_read(self, call: ast.Call) -> None:
        func = call.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        is_environ_get = (
            isinstance(func, ast.Attribute)
            and func.attr == "get"
            and isinstance(func.value, ast.Attribute)
            and func.value.attr == "environ"
        )
        if (name in ENV_READERS or is_environ_get) and call.args and isinstance(call.args[0], ast.Constant):
            self.reads.add(str(call.args[0].value))

    def _follow(self, mod: Module, name: str, attr: str | None) -> None:
        if name in mod.defs:
            self.visit(mod.name, name)
        elif name in mod.names:
            target_module, target_name = mod.names[name]
            if target_name is not None:
                self.visit(target_module, None)
                self.visit(target_module, target_name)
            else:
                self.visit(target_module, None)
                if attr is not None:
                    self.visit(target_module, attr)


def _code(root: ast.AST):
    """Every node under ``root`` except annotations (they are not run)."""
    todo = [root]
    while todo:
        node = todo.pop()
        yield node
        for name, value in ast.iter_fields(node):
            if name in ("annotation", "returns"):
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    todo.append(child)


def _locals(root: ast.AST) -> set[str]:
    """Names a function (or class) binds itself: its parameters and assignments shadow the module's names."""
    if not isinstance(root, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
        return set()
    names = set()
    for node in ast.walk(root):
        if isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def reads_of(handler_module: str) -> set[str]:
    reach = Reach()
    reach.visit(handler_module)
    return reach.reads


def _globals() -> dict[str, object]:
    return STACK.template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})


def _own(logical_id: str) -> set[str]:
    props = STACK.template["Resources"][logical_id]["Properties"]
    return set((props.get("Environment") or {}).get("Variables") or {})


TEMPLATE_SETTINGS = set(_globals()).union(*(_own(fn) for fn in STACK.functions))
FUNCTIONS = sorted(STACK.functions)


def test_globals_hold_only_deployment_wide_settings_no_tables_or_credentials():
    assert set(_globals()) <= DEPLOYMENT_WIDE


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_given_a_function_then_its_template_entry_sets_exactly_the_settings_its_code_reads(logical_id):
    fn = STACK.functions[logical_id]
    reads = reads_of(fn.module)
    given = _own(logical_id) | set(_globals())
    own = {v for v in _own(logical_id) if not v.startswith(POWERTOOLS)}
    missing = sorted(v for v in reads & TEMPLATE_SETTINGS if v not in given)
    unused = sorted(own - reads)
    assert not missing, f"{logical_id} reads {missing} but its template entry does not set them"
    assert not unused, f"{logical_id} sets {unused} but its code never reads them"


def test_the_walk_sees_what_a_handler_reaches_through_the_layer():
    """The analysis itself: the device routes reach their tables through the devices repository, /health reaches
    none, and a setting read only inside an unreached function does not count."""
    devices = reads_of("functions.devices.app")
    assert {"DEVICES_TABLE", "LABELS_TABLE", "DEVICE_LABELS_TABLE", "JWT_SECRET_ARN"} <= devices
    assert "MOBIVISOR_API_TOKEN" not in devices and "FLOW_STEPS_QUEUE_URL" not in devices
    health = reads_of("functions.health.app")
    assert not {v for v in health if v.endswith("_TABLE")} and "JWT_SECRET_ARN" not in health
    assert "JWT_TTL_SECONDS" not in reads_of("functions.search.app")  # only issuing a token reads it
    assert "JWT_TTL_SECONDS" in reads_of("functions.auth.app")
