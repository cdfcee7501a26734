"""The API documents tell the truth: every status that a handler test of this session saw a route answer is
documented for that operation in its HTTP API's document, and each document keeps one schema name per model.

Named to run last: it reads what every ``api.call`` before it observed (tests.support.OBSERVED). Run alone, or with
few tests, it has too little to judge and skips; ``make test`` runs it after the whole suite.
"""

from __future__ import annotations

import pytest

from localcloud.docs import ApiDocs
from localcloud.lambdas import Functions
from tests.support import OBSERVED, STACK

ENOUGH = 300  # distinct (api, method, route, status) observations: the suite's handler tests, not a few of them
# Answered by any route for reasons no operation documents: a fault of our own (the generic 500).
UNDOCUMENTED = {500}


@pytest.fixture(scope="module")
def documents() -> dict[str, ApiDocs]:
    functions = Functions(STACK)  # imports the handler modules only: no AWS call
    return {api: ApiDocs(functions, api=api) for api in functions.apis}


def test_given_the_suites_observations_when_comparing_then_every_answered_status_is_documented(documents):
    if len(OBSERVED) < ENOUGH:
        pytest.skip(f"only {len(OBSERVED)} observations: run with the whole suite (make test)")
    missing = []
    for api, method, path, status in sorted(OBSERVED):
        operation = documents[api].openapi()["paths"][path][method.lower()]
        if str(status) not in operation["responses"] and status not in UNDOCUMENTED:
            missing.append(f"{api} {method} {path}: {status}")
    assert not missing, "answered but not documented:\n" + "\n".join(missing)


def test_given_each_document_then_one_schema_name_per_model_and_204_has_no_body(documents):
    for api, docs in documents.items():
        document = docs.openapi()
        assert docs.collisions == [], api
        for path, item in document["paths"].items():
            for method, operation in item.items():
                assert "content" not in operation["responses"].get("204", {}), (api, method, path)
                assert operation["summary"] != f"{method.upper()} {path}", (api, method, path)
                assert operation.get("tags") and operation.get("description"), (api, method, path)
