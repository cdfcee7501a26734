"""Every API function's resolver documents each of its template routes (the local cloud merges these into /docs)."""

import importlib

import pytest

from localcloud.template import stack as load_stack

FUNCTIONS = [fn for fn in load_stack().functions.values() if fn.routes]


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda fn: fn.logical_id)
def test_given_a_function_when_building_its_openapi_then_every_template_route_is_documented(api, fn):
    api.functions.handler(fn.logical_id)  # imported as the local cloud and Lambda import it (its service name)
    schema = importlib.import_module(fn.module).app.get_openapi_schema()
    documented = {
        (method.upper(), path)
        for path, item in schema.paths.items()
        for method in ("get", "post", "put", "delete")
        if getattr(item, method, None) is not None
    }
    assert {(r.method, r.path) for r in fn.routes} <= documented
