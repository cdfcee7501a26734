"""Lambda's part: load each function's handler in-process and invoke it like the service does.

One lock per function: like a single warm Lambda instance, a function handles
one event at a time (Powertools resolvers keep per-request state on the module's
``app``). The HTTP side matches a request to a route the way API Gateway does.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from localcloud.apigw import HttpResponse, LambdaContext, decode_response, http_event
from localcloud.template import ROOT, Route, Stack

LAYER_DIRS = sorted(str(p) for p in (ROOT / "layers").iterdir() if p.is_dir()) if (ROOT / "layers").is_dir() else []


def ensure_import_paths() -> None:
    """Lambda puts the function's code and /opt/python (the layer) on sys.path; we add the repo and layer dirs."""
    for path in [str(ROOT), *LAYER_DIRS]:
        if path not in sys.path:
            sys.path.insert(0, path)


class Functions:
    def __init__(self, stack: Stack):
        self.stack = stack
        self._handlers: dict[str, Callable[[dict, Any], Any]] = {}
        self._locks = {name: threading.Lock() for name in stack.functions}
        self._import_lock = threading.Lock()
        self.apis = stack.apis  # the HTTP APIs, the main one first
        self._routes = {api: stack.routes(api) for api in self.apis}

    def handler(self, logical_id: str) -> Callable[[dict, Any], Any]:
        if logical_id not in self._handlers:
            with self._import_lock:
                if logical_id not in self._handlers:
                    fn = self.stack.functions[logical_id]
                    ensure_import_paths()
                    # The module reads its own POWERTOOLS_SERVICE_NAME when it is first imported.
                    previous = os.environ.get("POWERTOOLS_SERVICE_NAME")
                    os.environ["POWERTOOLS_SERVICE_NAME"] = fn.environment.get("POWERTOOLS_SERVICE_NAME", logical_id)
                    try:
                        module = importlib.import_module(fn.module)
                    finally:
                        if previous is None:
                            os.environ.pop("POWERTOOLS_SERVICE_NAME", None)
                        else:
                            os.environ["POWERTOOLS_SERVICE_NAME"] = previous
                    self._handlers[logical_id] = getattr(module, fn.attribute)
        return self._handlers[logical_id]

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        fn = self.stack.functions[logical_id]
        handler = self.handler(logical_id)
        with self._locks[logical_id]:
            return handler(event, LambdaContext(self.stack.physical_name(logical_id), fn.memory, fn.timeout))

    def match(self, method: str, path: str, api: str | None = None) -> tuple[Route | None, bool]:
        """The route for ``method path`` on HTTP API ``api`` (default: the main one); the flag says whether the path
        exists under another method."""
        path_known = False
        for route in self._routes.get(api or self.main_api, []):
            if route.regex.match(path):
                path_known = True
                if route.method in (method.upper(), "ANY"):
                    return route, True
        return None, path_known

    @property
    def main_api(self) -> str:
        return self.apis[0] if self.apis else ""

    def http(
        self,
        method: str,
        path_and_query: str,
        headers: dict[str, str] | None = None,
        body: bytes | str | None = None,
        *,
        api: str | None = None,
    ) -> HttpResponse:
        """One request to HTTP API ``api`` (a logical id; default: the main one)."""
        path = path_and_query.split("?", 1)[0]
        route, _ = self.match(method, path, api)
        if route is None:
            # What API Gateway answers for a request no route matches.
            return HttpResponse(404, {"content-type": "application/json"}, [], b'{"message":"Not Found"}')
        api_id = "local" if route.api == self.main_api else route.api.lower()
        event = http_event(method, path_and_query, headers=headers, body=body, route=route, api_id=api_id)
        return decode_response(self.invoke(route.function, event))
