"""The AWS side of the local cloud: an embedded moto server (and DynamoDB Local when asked), the environment
that points every SDK client at it, and the template's tables, queues and secrets created there.

Handlers never know: boto3 and PynamoDB honour ``AWS_ENDPOINT_URL`` and the service-specific
``AWS_ENDPOINT_URL_DYNAMODB`` (and ``..._DYNAMODB_STREAMS``, where the stream mappings read); without those
variables the same code talks to AWS.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from localcloud.state import secret_value
from localcloud.template import TEMPLATE, Stack, load

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

    from localcloud.dynamodb_local import DynamoDBLocal

log = logging.getLogger("localcloud")

DynamoDBMode = Literal["moto", "local"]


LOCAL_DEFAULTS = {"Stage": "local", "OutboundAllow": "loopback", "AllowRegistration": "true"}
# Variables the contracts name that no function's environment takes from a parameter under that name.
VARIABLE_ALIASES = {"LOG_LEVEL": "LogLevel"}
# Parameters the shell never sets: the local cloud is always Stage=local.
NOT_FROM_SHELL = {"Stage"}


def parameter_variables(template: dict[str, Any]) -> dict[str, str]:
    """Environment variable -> the template parameter that feeds it (``MOBIVISOR_API_URL: !Ref MobivisorApiUrl`` in a
    function's Environment), plus :data:`VARIABLE_ALIASES`. A variable fed by two different parameters is left out."""
    fed: dict[str, set[str]] = {}
    functions = [r for r in template.get("Resources", {}).values() if r.get("Type") == "AWS::Serverless::Function"]
    sections = [template.get("Globals", {}).get("Function", {}), *(f.get("Properties", {}) for f in functions)]
    parameters = template.get("Parameters", {})
    for props in sections:
        for var, value in ((props.get("Environment") or {}).get("Variables") or {}).items():
            if isinstance(value, dict) and value.get("Ref") in parameters:
                fed.setdefault(var, set()).add(value["Ref"])
    out = {var: next(iter(names)) for var, names in fed.items() if len(names) == 1}
    out.update({var: name for var, name in VARIABLE_ALIASES.items() if name in parameters})
    return {var: name for var, name in out.items() if name not in NOT_FROM_SHELL}


def local_stack(
    path: Path = TEMPLATE, overrides: dict[str, str] | None = None, environ: Mapping[str, str] | None = None
) -> Stack:
    """The stack as the local cloud runs it. Each parameter's value, weakest first: the template's default; the
    local cloud's (:data:`LOCAL_DEFAULTS`: ``Stage`` is ``local``, integrations may call loopback sinks, anyone may
    register); a non-empty variable of ``environ`` (the shell) that the parameter feeds (``MOBIVISOR_API_URL`` for
    ``MobivisorApiUrl``, see :func:`parameter_variables`); ``overrides`` (``serve --param Name=Value``).
    ``stack.parameter_sources`` says where each value that is not the template's default came from."""
    template = load(path)
    parameters = dict(LOCAL_DEFAULTS)
    sources = dict.fromkeys(LOCAL_DEFAULTS, "local cloud default")
    for var, name in parameter_variables(template).items() if environ is not None else ():
        if (environ.get(var) or "").strip():
            parameters[name], sources[name] = environ[var].strip(), f"${var}"
    for name, value in (overrides or {}).items():
        parameters[name], sources[name] = value, "--param"
    local = Stack(template=template, parameters=parameters)
    local.parameter_sources = sources
    return local


def parameter_problems(stack: Stack) -> list[str]:
    """Values CloudFormation would refuse for their parameter (AllowedValues, MinValue/MaxValue, a Number that is
    not one), naming where each came from."""
    problems = []
    for name, spec in stack.template.get("Parameters", {}).items():
        value = stack.parameters.get(name, "")
        if name not in stack.parameter_sources:
            continue  # the template's own default
        where = stack.parameter_sources[name]
        allowed = [str(v) for v in spec.get("AllowedValues", [])]
        if allowed and value not in allowed:
            problems.append(f"{name} ({where}) must be one of {', '.join(allowed)}")
        if spec.get("Type") == "Number":
            try:
                number = float(value)
            except ValueError:
                problems.append(f"{name} ({where}) must be a number")
                continue
            if "MinValue" in spec and number < float(spec["MinValue"]):
                problems.append(f"{name} ({where}) must be at least {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                problems.append(f"{name} ({where}) must be at most {spec['MaxValue']}")
    return problems


def client_environment(stack: Stack, endpoint: str, dynamodb_endpoint: str | None = None) -> dict[str, str]:
    """What a function of ``stack`` sees locally: the template's environment, fake credentials and the endpoints."""
    return {
        **stack.environment(),
        "AWS_ACCESS_KEY_ID": "localcloud",
        "AWS_SECRET_ACCESS_KEY": "localcloud",
        "AWS_SESSION_TOKEN": "localcloud",
        "AWS_REGION": stack.region,
        "AWS_DEFAULT_REGION": stack.region,
        # Nothing from ~/.aws (profiles, per-service endpoints) may send a call to a real account.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint or endpoint,
        # Integrations may call loopback sinks here (OutboundAllow), but never this cloud's own AWS endpoints.
        "OUTBOUND_DENY": ",".join(
            dict.fromkeys(f"loopback:{urlsplit(url).port}" for url in (endpoint, dynamodb_endpoint) if url)
        ),
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": dynamodb_endpoint or endpoint,  # a table's stream lives with the table
    }


def apply_environment(env: dict[str, str]) -> None:
    """Set ``env`` in this process, dropping profiles and per-service endpoints that would point elsewhere."""
    for var in list(os.environ):
        if (var.startswith("AWS_ENDPOINT_URL_") and var not in env) or var == "AWS_PROFILE":
            del os.environ[var]
    os.environ.update(env)


def create_secrets(stack: Stack, secretsmanager: Any, data_dir: Path) -> dict[str, str]:
    """Create every AWS::SecretsManager::Secret under the ARN ``!Ref`` gives; returns logical id → ARN.

    Generated values (GenerateSecretString) are kept in ``data_dir/secrets.json``, so tokens signed
    with them survive a restart.
    """
    arns = {}
    for logical_id, resource in stack.resources_of("AWS::SecretsManager::Secret").items():
        props = resource.get("Properties", {})
        if "GenerateSecretString" in props:
            value = secret_value(data_dir, logical_id, props["GenerateSecretString"])
        elif "SecretString" in props:
            value = str(stack.resolve(props["SecretString"]))
        else:
            continue
        arn = stack.resolve({"Ref": logical_id})
        name = arn.rsplit(":secret:", 1)[1]
        try:
            secretsmanager.create_secret(Name=name, SecretString=value)
        except secretsmanager.exceptions.ResourceExistsException:
            secretsmanager.put_secret_value(SecretId=name, SecretString=value)
        arns[logical_id] = arn
    return arns


class LocalCloud:
    """moto (and optionally DynamoDB Local) running, this process's environment pointing at it, resources created."""

    def __init__(self, stack: Stack, data_dir: Path, *, dynamodb: DynamoDBMode = "moto"):
        self.stack = stack
        self.data_dir = data_dir.resolve()
        self.dynamodb = dynamodb
        self.endpoint = ""
        self.dynamodb_endpoint = ""
        self.queue_urls: dict[str, str] = {}  # logical id → URL
        self._moto: ThreadedMotoServer | None = None
        self._dynamodb_local: DynamoDBLocal | None = None

    def start(self) -> LocalCloud:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        try:
            if self.dynamodb == "local":  # first: Java is forked before moto's server thread exists
                from localcloud.dynamodb_local import DynamoDBLocal

                log.info("starting DynamoDB Local (about 6-10 s), data in %s", self.data_dir / "dynamodb")
                self._dynamodb_local = DynamoDBLocal(self.data_dir / "dynamodb")
            self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._moto.start()
            self.endpoint = f"http://127.0.0.1:{self._moto.get_host_and_port()[1]}"
            self.dynamodb_endpoint = self._dynamodb_local.endpoint if self._dynamodb_local else self.endpoint
            apply_environment(client_environment(self.stack, self.endpoint, self.dynamodb_endpoint))
            self.provision()
        except BaseException:
            self.stop()
            raise
        return self

    def provision(self) -> None:
        import boto3

        session = boto3.session.Session(region_name=self.stack.region)
        created = self.stack.create_tables(session.client("dynamodb"))
        self.queue_urls = self.stack.create_queues(session.client("sqs"))
        secrets = create_secrets(self.stack, session.client("secretsmanager"), self.data_dir)
        log.info(
            "created %d tables (%d already there), %d queues, %d secrets",
            len(created),
            len(self.stack.resources_of("AWS::DynamoDB::Table")) - len(created),
            len(self.queue_urls),
            len(secrets),
        )

    def stop(self) -> None:
        if self._dynamodb_local is not None:
            self._dynamodb_local.stop()
            self._dynamodb_local = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
