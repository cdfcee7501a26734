"""The financing routes in /docs: tagged, summarised, and their error answers documented in the family's shape."""

from __future__ import annotations

import importlib

import pytest

TAGS = {"functions.customer_device.app": "Customer device", "functions.customers_admin.app": "Admin: customers"}


@pytest.mark.parametrize("module", sorted(TAGS))
def test_given_a_financing_function_then_every_operation_has_its_tag_a_summary_and_documented_errors(api, module):
    schema = importlib.import_module(module).app.get_openapi_schema()
    operations = [
        (path, method, getattr(item, method))
        for path, item in schema.paths.items()
        for method in ("get", "post", "put", "delete")
        if getattr(item, method, None) is not None
    ]
    assert operations
    for path, method, op in operations:
        assert op.tags == [TAGS[module]], (method, path)
        assert op.summary and "\n" not in op.summary, (method, path)
        errors = {int(code) for code in op.responses if str(code).startswith(("4", "5"))}
        assert 400 in errors, (method, path)
        assert {401, 403} <= errors if "admin" in path else 429 in errors, (method, path)
        body = op.responses[400].content["application/json"].schema_
        assert body.ref == "#/components/schemas/CustomerError", (method, path)
