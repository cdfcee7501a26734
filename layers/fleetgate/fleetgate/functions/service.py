"""Function logic: every save compiles and loads the code in the sandbox (422 with the JavaScript error and its
line when it fails); a change of code or time limit makes a new version and every version is kept; test runs
execute in the sandbox without writing history."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from fleetgate.core.access import new_resource, owner_scope, visible
from fleetgate.core.auth import Principal
from fleetgate.core.errors import InvalidInput, NotFound
from fleetgate.core.ids import now_iso
from fleetgate.core.observability import timing
from fleetgate.core.pagination import Page
from fleetgate.core.repository import read_all
from fleetgate.core.schemas import changes
from fleetgate.core.settings import resettable
from fleetgate.functions import repository, sandbox
from fleetgate.functions.schemas import (
    Function,
    FunctionCode,
    FunctionCreate,
    FunctionTestRequest,
    FunctionTestResult,
    FunctionUpdate,
    FunctionVersion,
)
from fleetgate.history import service as history
from fleetgate.history.schemas import FunctionExecution

PINNED_CACHE_SECONDS = 300
PINNED_CACHE_MAX = 256
# Function versions never change: a warm instance reads a pinned one once per few minutes (a deleted function
# stops within that time). (function id, version) → (when read, its code or None).
_pinned: dict[tuple[str, int], tuple[float, FunctionCode | None]] = resettable({})


class CodeRejected(InvalidInput):
    code = "javascript_error"


def _entry_point(code: str, timeout_ms: int) -> str:
    try:
        return sandbox.check(code, timeout_ms)
    except sandbox.ScriptError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        raise CodeRejected(
            f"{exc.message}{where}", field="code", extra={"line": exc.line} if exc.line else None
        ) from None


def create_function(who: Principal, data: FunctionCreate) -> Function:
    entry = _entry_point(data.code, data.timeout_ms)
    fn = Function(**new_resource(who), entry_point=entry, version=1, **data.model_dump())
    repository.create(fn)
    return fn


def list_functions(who: Principal, *, limit: int, cursor: str | None) -> Page[Function]:
    return repository.list_functions(owner_scope(who), limit=limit, cursor=cursor)


def get_function(who: Principal, function_id: str) -> Function:
    return visible(who, repository.get(function_id), "Function")


def update_function(who: Principal, function_id: str, data: FunctionUpdate) -> Function:
    fn = get_function(who, function_id)
    changed = changes(data, fn)
    if not changed:
        return fn
    if "code" in changed or "timeout_ms" in changed:
        changed["entry_point"] = _entry_point(changed.get("code", fn.code), changed.get("timeout_ms", fn.timeout_ms))
        changed["version"] = fn.version + 1
    return repository.update(fn, changed, now_iso())


def delete_function(who: Principal, function_id: str) -> None:
    repository.delete(get_function(who, function_id))


def list_versions(who: Principal, function_id: str, *, limit: int, cursor: str | None) -> Page[FunctionVersion]:
    fn = get_function(who, function_id)
    return repository.versions(fn.id, limit=limit, cursor=cursor)


def test_function(who: Principal, function_id: str, data: FunctionTestRequest) -> FunctionTestResult:
    fn = get_function(who, function_id)
    code, timeout_ms, version = fn.code, fn.timeout_ms, fn.version
    if data.version is not None and data.version != fn.version:
        pinned = repository.get_version(fn.id, data.version)
        if pinned is None:
            raise NotFound(f"Function version {data.version} not found")
        code, timeout_ms, version = pinned.code, pinned.timeout_ms, pinned.version
    run = sandbox.run(code, data.payload, timeout_ms=timeout_ms)
    return FunctionTestResult(
        success=run.ok,
        output=run.output,
        logs=run.logs,
        duration_ms=run.duration_ms,
        error=run.error,
        error_line=run.error_line,
        version=version,
    )


def function_history(who: Principal, function_id: str, *, limit: int, cursor: str | None) -> Page[FunctionExecution]:
    fn = get_function(who, function_id)
    return history.for_resource("function", fn.id, fn.owner_id, limit=limit, cursor=cursor)


def all_function_history(who: Principal, *, limit: int, cursor: str | None) -> Page[FunctionExecution]:
    return history.for_caller(who, "function", limit=limit, cursor=cursor)


# ---------------------------------------------------------------- for other contexts (flows, the engine)
def code_for(nodes: Iterable[tuple[str, int | None]], owner_id: str) -> dict[tuple[str, int | None], FunctionCode]:
    """The code each (function id, version) runs for ``owner_id``: a pinned version, or the latest for None.
    Missing functions and versions, and other owners' functions, are left out. Pinned versions come from this
    instance's cache when read in the last few minutes; the rest in one BatchGetItem."""
    wanted = list(dict.fromkeys(nodes))
    now = time.monotonic()
    found: dict[tuple[str, int | None], FunctionCode | None] = {}
    for key in wanted:
        hit = _pinned.get(key) if key[1] is not None else None  # type: ignore[arg-type]
        if hit is not None and now - hit[0] < PINNED_CACHE_SECONDS:
            found[key] = hit[1]
    pinned = [(f, v) for f, v in wanted if v is not None and (f, v) not in found]
    latest = [f for f, v in wanted if v is None]
    if pinned or latest:
        versions, current = read_all(repository.version_code(pinned), repository.latest_code(latest))
        if len(_pinned) > PINNED_CACHE_MAX:
            _pinned.clear()
        for key in pinned:
            found[key] = versions.get(key)
            _pinned[key] = (now, found[key])
        for function_id in latest:
            found[(function_id, None)] = current.get(function_id)
    return {k: c for k, c in found.items() if c is not None and c.owner_id == owner_id}


def execute(code: FunctionCode, message: dict[str, Any]) -> sandbox.Execution:
    """Run one function on ``message`` in a fresh sandbox (a flow's function node). Never raises for the script's
    faults."""
    result = sandbox.run(code.code, message, timeout_ms=code.timeout_ms)
    timing("FunctionDuration", result.duration_ms)
    return result
