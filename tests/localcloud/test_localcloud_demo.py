"""The demo seeding on a database that has it already (a kept DynamoDB Local database): not seeded twice."""

from __future__ import annotations

from localcloud.demo import EMAIL, PASSWORD, banner_lines, seed


def test_given_a_seeded_database_when_seeding_again_then_nothing_new_and_the_banner_says_so(api):
    first = seed(api.functions, "http://127.0.0.1:9")
    again = seed(api.functions, "http://127.0.0.1:9")

    assert first is not None and first.ingest_key and again is not None and again.ingest_key is None
    assert (again.device_id, again.flow_id) == (first.device_id, first.flow_id)
    admin = api.call("POST", "/api/v1/auth/login", form={"username": EMAIL, "password": PASSWORD}).body
    assert len(api.call("GET", "/api/v1/flows", token=admin["access_token"]).body["items"]) == 1
    assert "seeded by an earlier start" in "\n".join(banner_lines(again, "http://127.0.0.1:3000", "http://sink"))


def test_given_the_demo_password_changed_when_seeding_again_then_none_and_the_start_goes_on(api):
    seed(api.functions, "http://127.0.0.1:9")
    token = api.call("POST", "/api/v1/auth/login", form={"username": EMAIL, "password": PASSWORD}).body["access_token"]
    changed = api.call(
        "POST", "/api/v1/auth/password", token=token, json_body={"current_password": PASSWORD, "new_password": "x" * 12}
    )
    assert changed.status == 200

    assert seed(api.functions, "http://127.0.0.1:9") is None
    assert "password was changed" in banner_lines(None, "http://127.0.0.1:3000", "http://sink")[0]
