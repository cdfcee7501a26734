"""The JavaScript sandbox: user functions run in QuickJS, a fresh context (and runtime) per execution.

Isolation: a QuickJS context built by the ``quickjs`` package has the ECMAScript built-ins and nothing else:
no ``require``, ``process``, ``fetch``, module loader, ``std``/``os`` modules, files, network or environment.
We add one object, a ``console`` whose output is captured (bounded) and returned to the caller. Each execution
gets a new context with a time limit (the function's, default 100 ms, at most 1 s, covering loading the code
and the call), a memory limit and a stack limit, and the context is dropped afterwards, so nothing survives
from one execution to the next and a runaway script cannot harm the next one.

``quickjs`` is imported on first use: functions that never run JavaScript never pay for it.

Entry point: ``decodeUplink``, ``processData`` or ``process`` when the code defines one (in that order),
otherwise the only function the code defines at top level. It receives the message and returns the
transformed message; a result that is not a plain object is wrapped as ``{"data": result}``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIMEOUT_MS = 100
MAX_TIMEOUT_MS = 1000
MEMORY_LIMIT_BYTES = 16 * 1024 * 1024
STACK_LIMIT_BYTES = 256 * 1024
MAX_CODE_CHARS = 64 * 1024
MAX_OUTPUT_BYTES = 256 * 1024
MAX_LOG_LINES = 100
MAX_LOG_LINE_CHARS = 1000
ENTRY_POINTS = ("decodeUplink", "processData", "process")

# Our own errors (not the user's code): no line number is reported for them.
_PROMISE = "the entry point returned a Promise: async code and import() are not supported"
_NOTHING = "the entry point returned nothing: return the transformed message"
_NOT_JSON = "the result is not JSON-serialisable"
_OURS = (_PROMISE, _NOTHING, _NOT_JSON)

# Installed in every fresh context before the user's code (one compile per execution): the captured console,
# the baseline of global names (to spot the functions the code adds), the entry-point finder and the call wrapper.
# JavaScript is full of braces, so the few values go in by %-name rather than str.format.
_PRELUDE = """
(function () {
  var logs = [], dropped = 0, base = [];
  function fmt(v) {
    if (typeof v === 'string') return v;
    try { var s = JSON.stringify(v); return s === undefined ? String(v) : s; } catch (e) { return String(v); }
  }
  function log() {
    if (logs.length >= %(lines)d) { dropped++; return; }
    var line = Array.prototype.map.call(arguments, fmt).join(' ');
    logs.push(line.length > %(chars)d ? line.slice(0, %(chars)d) + '...' : line);
  }
  function isFunction(n) { try { return typeof (0, eval)(n) === 'function'; } catch (e) { return false; } }
  function define(name, value) {
    Object.defineProperty(globalThis, name, {value: value, writable: false, configurable: false, enumerable: false});
  }
  define('console', Object.freeze({log: log, info: log, warn: log, error: log, debug: log}));
  define('__fleetgate_logs', function () {
    return JSON.stringify(dropped ? logs.concat(['... ' + dropped + ' more line(s) dropped']) : logs);
  });
  define('__fleetgate_find', function (preferred, named) {
    for (var i = 0; i < preferred.length; i++) if (isFunction(preferred[i])) return JSON.stringify([preferred[i]]);
    var added = Object.getOwnPropertyNames(globalThis).filter(function (n) { return base.indexOf(n) < 0; });
    var seen = {}, out = [];
    named.concat(added).forEach(function (n) {
      if (!seen[n] && /^[A-Za-z_$][\\w$]*$/.test(n) && isFunction(n)) { seen[n] = true; out.push(n); }
    });
    return JSON.stringify(out);
  });
  define('__fleetgate_call', function __fleetgate_call(fn) {
    var r = fn(JSON.parse(__fleetgate_input));
    if (r !== null && typeof r === 'object' && typeof r.then === 'function') throw new TypeError('%(promise)s');
    if (r === undefined) throw new TypeError('%(nothing)s');
    if (r === null || typeof r !== 'object' || Array.isArray(r)) r = {data: r};
    try {
      return JSON.stringify(r, function (k, v) {
        var t = typeof v;
        if (t === 'function' || t === 'symbol' || t === 'bigint')
          throw new TypeError((k === '' ? 'the result' : 'field ' + JSON.stringify(k)) + ' is a ' + t);
        return v;
      });
    } catch (e) {
      throw new TypeError('%(not_json)s: ' + (e && e.message ? e.message : String(e)));
    }
  });
  base = Object.getOwnPropertyNames(globalThis);
})();
""" % {
    "lines": MAX_LOG_LINES,
    "chars": MAX_LOG_LINE_CHARS,
    "promise": _PROMISE,
    "nothing": _NOTHING,
    "not_json": _NOT_JSON,
}

_DECLARED = re.compile(r"\bfunction\s*\*?\s*([A-Za-z_$][\w$]*)\s*\(")
_BOUND = re.compile(
    r"\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*"
    r"(?:async\b\s*)?(?:function\b|\(|[A-Za-z_$][\w$]*\s*=>)"
)
_FRAME = re.compile(r"^\s*at (\S+) \(<input>(?::(\d+))?")
_MODULE_SYNTAX = re.compile(r"^\s*(?:import|export)\b", re.M)


class ScriptError(Exception):
    """The code could not be loaded, has no entry point, or failed while running."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class Execution:
    ok: bool
    output: dict[str, Any] | None
    logs: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    error: str | None = None
    error_line: int | None = None


def _quickjs() -> Any:
    import quickjs  # 2 MB extension, ~20-40 ms to import: only the functions that run JavaScript load it

    return quickjs


def _describe(exc: Exception, timeout_ms: int, *, user_code: bool) -> ScriptError:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if first.startswith("InternalError: interrupted"):
        message = f"time limit exceeded: the function ran longer than {timeout_ms} ms"
    elif first.startswith("InternalError: out of memory"):
        message = f"memory limit exceeded: the function used more than {MEMORY_LIMIT_BYTES // (1024 * 1024)} MiB"
    elif "stack overflow" in first:
        message = "stack overflow: recursion too deep"
    elif first.startswith("ReferenceError") and any(f"'{n}'" in first for n in ("require", "process", "fetch")):
        message = f"{first} (functions run plain JavaScript: no require, process, fetch, import, files or network)"
    else:
        message = first
    return ScriptError(message, None if any(marker in first for marker in _OURS) else _line(text, user_code))


def _line(text: str, user_code: bool) -> int | None:
    """The line in the user's code: of the syntax error, or of the innermost frame with a line number. Frames of
    our own call wrapper (and, once the code is loaded, of evaluated snippets) are not the user's."""
    for raw in text.splitlines():
        frame = _FRAME.match(raw)
        if raw.strip().startswith("at <input>:"):  # a SyntaxError's position
            return int(raw.strip().rsplit(":", 1)[1]) if user_code else None
        if not frame:
            continue
        name, line = frame.groups()
        if name == "__fleetgate_call" or (name == "<eval>" and not user_code):
            return None
        if line:
            return int(line)
    return None


class _Run:
    """One execution: a fresh context with the limits set and the console installed."""

    def __init__(self, timeout_ms: int):
        quickjs = _quickjs()
        self.timeout_ms = timeout_ms
        self.deadline = time.perf_counter() + timeout_ms / 1000
        self.errors = (quickjs.JSException,)
        self.ctx = quickjs.Context()
        self.ctx.set_memory_limit(MEMORY_LIMIT_BYTES)
        self.ctx.set_max_stack_size(STACK_LIMIT_BYTES)
        self.ctx.eval(_PRELUDE)

    def eval(self, code: str, *, user_code: bool) -> Any:
        remaining = self.deadline - time.perf_counter()
        if remaining <= 0:
            raise ScriptError(f"time limit exceeded: the function ran longer than {self.timeout_ms} ms")
        self.ctx.set_time_limit(max(remaining, 0.001))
        try:
            return self.ctx.eval(code)
        except self.errors as exc:
            raise _describe(exc, self.timeout_ms, user_code=user_code) from None

    def load(self, code: str) -> str:
        """Run the code's top level; return its entry point's name."""
        if len(code) > MAX_CODE_CHARS:
            raise ScriptError(f"the code is longer than {MAX_CODE_CHARS} characters")
        try:
            self.eval(code, user_code=True)
        except ScriptError as exc:
            if exc.message.startswith("SyntaxError") and _MODULE_SYNTAX.search(code):
                exc.message += " (modules are not supported: no import or export)"
            raise
        named = list(dict.fromkeys(m.group(1) for rx in (_DECLARED, _BOUND) for m in rx.finditer(code)))
        functions = json.loads(
            self.eval(f"__fleetgate_find({json.dumps(list(ENTRY_POINTS))}, {json.dumps(named)})", user_code=False)
        )
        for preferred in ENTRY_POINTS:
            if preferred in functions:
                return preferred
        if len(functions) == 1:
            return functions[0]
        found = f" (it defines {', '.join(functions[:10])})" if functions else " (it defines no function)"
        raise ScriptError(
            f"no entry point: define decodeUplink, processData or process, or exactly one top-level function{found}"
        )

    def call(self, entry_point: str, message: dict[str, Any]) -> dict[str, Any]:
        self.ctx.set("__fleetgate_input", json.dumps(message))
        raw = self.eval(f"__fleetgate_call({entry_point})", user_code=False)
        if not isinstance(raw, str):
            raise ScriptError(f"{_NOT_JSON}: the result could not be converted")
        if len(raw.encode()) > MAX_OUTPUT_BYTES:
            raise ScriptError(f"the result is larger than {MAX_OUTPUT_BYTES // 1024} KiB")
        return json.loads(raw)

    def logs(self) -> list[str]:
        try:
            self.ctx.set_time_limit(0.05)
            return list(json.loads(self.ctx.eval("__fleetgate_logs()")))
        except Exception:
            return []


def _timeout(timeout_ms: int | None) -> int:
    return max(1, min(int(timeout_ms or DEFAULT_TIMEOUT_MS), MAX_TIMEOUT_MS))


def check(code: str, timeout_ms: int | None = None) -> str:
    """Compile and load ``code`` in a fresh context; return its entry point. Raises :class:`ScriptError`."""
    return _Run(_timeout(timeout_ms)).load(code)


def run(code: str, message: dict[str, Any], *, timeout_ms: int | None = None) -> Execution:
    """Execute the code's entry point on ``message`` in a fresh context. Never raises for the script's faults."""
    started = time.perf_counter()
    execution = _Run(_timeout(timeout_ms))
    try:
        output = execution.call(execution.load(code), message)
        ok, error, line = True, None, None
    except ScriptError as exc:
        output, ok, error, line = None, False, exc.message, exc.line
    duration = (time.perf_counter() - started) * 1000
    return Execution(
        ok=ok, output=output, logs=execution.logs(), duration_ms=round(duration, 3), error=error, error_line=line
    )
