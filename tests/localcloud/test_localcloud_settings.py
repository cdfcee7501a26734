"""Settings as the contracts name them: a shell variable that a template parameter feeds replaces that parameter's
default in the local cloud, ``--param`` wins over both, and the banner says where each came from, secrets masked."""

from __future__ import annotations

from localcloud.cloud import local_stack, parameter_problems, parameter_variables
from localcloud.serve import upstream_lines
from localcloud.template import load


def test_given_the_template_when_reading_which_variables_its_parameters_feed_then_the_contracts_names():
    variables = parameter_variables(load())
    assert {
        "MOBIVISOR_API_URL": "MobivisorApiUrl",
        "MOBIVISOR_API_TOKEN": "MobivisorApiToken",
        "MICROSHARE_AUTH_URL": "MicroshareAuthUrl",
        "MICROSHARE_API_URL": "MicroshareApiUrl",
        "MICROSHARE_USERNAME": "MicroshareUsername",
        "MICROSHARE_PASSWORD": "MicrosharePassword",
        "CACHE_TTL": "MicroshareCacheTtl",
        "API_TIMEOUT": "MicroshareApiTimeout",
        "LOG_LEVEL": "LogLevel",
    }.items() <= variables.items()
    assert "STAGE" not in variables  # the local cloud is always Stage=local


def test_given_a_shell_variable_and_a_param_when_building_the_stack_then_param_beats_shell_beats_default():
    shell = {"MOBIVISOR_API_URL": "http://127.0.0.1:9/", "API_TIMEOUT": "30", "CACHE_TTL": "", "STAGE": "prod"}
    stack = local_stack(overrides={"MicroshareApiTimeout": "12"}, environ=shell)

    assert stack.functions["MobivisorFunction"].environment["MOBIVISOR_API_URL"] == "http://127.0.0.1:9/"
    assert stack.functions["MicroshareFunction"].environment["API_TIMEOUT"] == "12"
    assert stack.functions["MicroshareFunction"].environment["CACHE_TTL"] == "300"  # empty: not set
    assert stack.parameters["Stage"] == "local"
    assert stack.parameter_sources["MobivisorApiUrl"] == "$MOBIVISOR_API_URL"
    assert stack.parameter_sources["MicroshareApiTimeout"] == "--param"
    assert "MicroshareCacheTtl" not in stack.parameter_sources


def test_given_no_environ_when_building_the_stack_then_the_shell_is_not_read(monkeypatch):
    monkeypatch.setenv("MOBIVISOR_API_URL", "http://127.0.0.1:9/")
    assert local_stack().parameters["MobivisorApiUrl"] == ""


def test_given_values_cloudformation_would_refuse_when_checking_then_each_is_named_with_its_source():
    stack = local_stack(
        overrides={"ErpAdapter": "sap"}, environ={"API_TIMEOUT": "31", "CACHE_TTL": "soon", "MOBIVISOR_API_URL": "x"}
    )
    assert sorted(parameter_problems(stack)) == [
        "ErpAdapter (--param) must be one of upload, odoo",
        "MicroshareApiTimeout ($API_TIMEOUT) must be at most 30",
        "MicroshareCacheTtl ($CACHE_TTL) must be a number",
    ]
    assert parameter_problems(local_stack(environ={"API_TIMEOUT": "30"})) == []


def test_given_upstreams_configured_or_not_when_bannering_then_where_from_and_never_the_secret():
    secret = "s3cret-token-value"
    stack = local_stack(
        overrides={"MicroshareApiUrl": "http://127.0.0.1:8/"},
        environ={"MOBIVISOR_API_URL": "http://127.0.0.1:9/", "MOBIVISOR_API_TOKEN": secret},
    )
    lines = "\n".join(upstream_lines(stack))

    assert "Mobivisor      configured: MobivisorApiUrl=http://127.0.0.1:9/ ($MOBIVISOR_API_URL); " in lines
    assert "MobivisorApiToken=set ($MOBIVISOR_API_TOKEN)" in lines
    assert "Microshare     incomplete, missing MicroshareAuthUrl, MicroshareUsername, MicrosharePassword" in lines
    assert "MicroshareApiUrl=http://127.0.0.1:8/ (--param)" in lines
    assert "SMS            not configured (set SMS_PROVIDER_URL before make dev)" in lines
    assert secret not in lines
