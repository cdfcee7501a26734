"""The AWS side of the local cloud: an embedded moto server (and DynamoDB Local when asked), the environment
that points every SDK client at it, and the template's tables, queues and secrets created there.

Handlers never know: boto3 and PynamoDB honour ``AWS_ENDPOINT_URL`` and the service-specific
``AWS_ENDPOINT_URL_DYNAMODB`` (and ``..._DYNAMODB_STREAMS``, where the stream mappings read); without those
variables the same code talks to AWS.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from localcloud.state import secret_value
from localcloud.template import TEMPLATE, Stack, stack

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

    from localcloud.dynamodb_local import DynamoDBLocal

log = logging.getLogger("localcloud")

DynamoDBMode = Literal["moto", "local"]


def local_stack(path: Path = TEMPLATE, overrides: dict[str, str] | None = None) -> Stack:
    """The stack as the local cloud runs it: parameter ``Stage`` is ``local``, integrations may call loopback
    sinks (``OutboundAllow``) and anyone may register (``AllowRegistration``); ``overrides`` set other
    parameters (``serve --param Name=Value``)."""
    defaults = {"Stage": "local", "OutboundAllow": "loopback", "AllowRegistration": "true"}
    return stack(path, parameters={**defaults, **(overrides or {})})


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
