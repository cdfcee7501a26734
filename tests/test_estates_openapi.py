"""The estates routes document themselves: a tag (``Mobile`` for residents, ``Admin: estates`` for staff), a one-line
summary, and their error answers in the family's ``{"error", "message"}`` shape."""

import importlib

import pytest

from localcloud.template import stack as load_stack

FUNCTIONS = {"MobileFunction": "Mobile", "EstatesAdminFunction": "Admin: estates"}
ROUTES = [(name, r) for name, fn in load_stack().functions.items() if name in FUNCTIONS for r in fn.routes]


@pytest.mark.parametrize("name, route", ROUTES, ids=lambda x: x if isinstance(x, str) else f"{x.method} {x.path}")
def test_given_an_estates_route_then_it_has_its_tag_a_summary_and_its_error_answers(name, route):
    schema = importlib.import_module(load_stack().functions[name].module).app.get_openapi_schema()
    operation = getattr(schema.paths[route.path], route.method.lower())

    assert operation.tags == [FUNCTIONS[name]]
    assert operation.summary and "\n" not in operation.summary
    errors = {int(code): answer for code, answer in operation.responses.items() if int(code) >= 400}
    assert 422 not in errors  # this family answers invalid input with 400
    assert 401 in errors  # a bad token, or (login) bad credentials
    assert 400 in errors or (route.method == "GET" and "{" not in route.path)
    for answer in errors.values():
        assert answer.content["application/json"].schema_.ref == "#/components/schemas/MobileError"
