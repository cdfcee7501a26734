"""Function logic: every save compiles and loads the code in the sandbox (422 with the JavaScript error and its
line when it fails); a change of code or time limit makes a new version and every version is kept; test runs
execute in the sandbox without writing history."""

from __future__ import annotations

from fleetgate.core.access import owner_scope, visible
from fleetgate.core.auth import Principal
from fleetgate.core.errors import InvalidInput, NotFound
from fleetgate.core.ids import new_id, now_iso
from fleetgate.core.pagination import Page
from fleetgate.functions import repository, sandbox
from fleetgate.functions.schemas import (
    Function,
    FunctionCreate,
    FunctionTestRequest,
    FunctionTestResult,
    FunctionUpdate,
    FunctionVersion,
)
from fleetgate.history import service as history
from fleetgate.history.schemas import FunctionExecution
from fleetgate.search import service as search


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


def _searchable(fn: Function | None) -> dict[str, str | None] | None:
    return None if fn is None else {"name": fn.name}


def create_function(who: Principal, data: FunctionCreate) -> Function:
    entry = _entry_point(data.code, data.timeout_ms)
    now = now_iso()
    fn = Function(
        id=new_id(),
        owner_id=who.user_id,
        entry_point=entry,
        version=1,
        created_at=now,
        updated_at=now,
        **data.model_dump(),
    )
    repository.create(fn)
    search.sync(fn.owner_id, "function", fn.id, None, _searchable(fn))
    return fn


def list_functions(who: Principal, *, limit: int, cursor: str | None) -> Page[Function]:
    return repository.list_functions(owner_scope(who), limit=limit, cursor=cursor)


def get_function(who: Principal, function_id: str) -> Function:
    return visible(who, repository.get(function_id), "Function")


def update_function(who: Principal, function_id: str, data: FunctionUpdate) -> Function:
    fn = get_function(who, function_id)
    changes = data.model_dump(exclude_unset=True)
    for required in changes:
        if changes[required] is None:
            raise InvalidInput(f"{required} cannot be null", field=required)
    changes = {k: v for k, v in changes.items() if v != getattr(fn, k)}
    if not changes:
        return fn
    if "code" in changes or "timeout_ms" in changes:
        changes["entry_point"] = _entry_point(changes.get("code", fn.code), changes.get("timeout_ms", fn.timeout_ms))
        changes["version"] = fn.version + 1
    updated = repository.update(fn, changes, now_iso())
    search.sync(fn.owner_id, "function", fn.id, _searchable(fn), _searchable(updated))
    return updated


def delete_function(who: Principal, function_id: str) -> None:
    fn = get_function(who, function_id)
    repository.delete(fn)
    search.sync(fn.owner_id, "function", fn.id, _searchable(fn), None)


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
    return history.for_resource("function", fn.id, limit=limit, cursor=cursor)


def all_function_history(who: Principal, *, limit: int, cursor: str | None) -> Page[FunctionExecution]:
    return history.for_caller(who, "function", limit=limit, cursor=cursor)
