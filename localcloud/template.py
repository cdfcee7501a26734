"""template.yaml as the single source of truth: functions, routes, tables, queues and schedules.

Parses the SAM template (CloudFormation short-form tags included), resolves the
intrinsics the local cloud needs (``!Ref``, ``!GetAtt``, ``!Sub`` of known names)
and creates the resources in whatever DynamoDB/SQS endpoint boto3 is pointed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
LOCAL_PREFIX = "fleetgate-local"
MAIN_API = "FleetgateApi"  # served on the local cloud's first port (3000), with the Function URLs


class _CfnLoader(yaml.SafeLoader):
    pass


def _construct_tag(loader: yaml.Loader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if name == "Fn::GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)


@dataclass
class Route:
    method: str  # upper case, or ANY
    path: str  # SAM form: /api/v1/devices/{device_id}
    function: str  # logical id
    api: str = "ServerlessHttpApi"  # the HTTP API's logical id (SAM's implicit API when the event names none)
    regex: re.Pattern[str] = field(repr=False, default=None)  # type: ignore[assignment]
    params: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        parts, self.params = [], []
        for segment in self.path.strip("/").split("/"):
            m = re.fullmatch(r"\{([^}+]+)(\+?)\}", segment)
            if m:
                self.params.append(m.group(1))
                parts.append(f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)")
            else:
                parts.append(re.escape(segment))
        self.regex = re.compile("^/" + "/".join(parts) + "/?$")

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def specificity(self) -> tuple[int, int]:
        """API Gateway prefers literal segments over parameters, and longer paths."""
        segments = self.path.strip("/").split("/")
        return (-sum(1 for s in segments if not s.startswith("{")), -len(segments))


@dataclass
class Function:
    logical_id: str
    code_uri: str
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int
    routes: list[Route] = field(default_factory=list)
    sqs_sources: list[dict[str, Any]] = field(default_factory=list)
    stream_sources: list[dict[str, Any]] = field(default_factory=list)  # DynamoDB events: Stream is the table's id
    schedules: list[dict[str, Any]] = field(default_factory=list)
    function_url: bool = False
    on_failure_queue: str | None = None  # EventInvokeConfig's OnFailure queue (logical id): failed async invocations

    @property
    def module(self) -> str:
        """Import path of the handler module: functions/devices/ + app.lambda_handler → functions.devices.app."""
        package = self.code_uri.strip("/").replace("/", ".")
        return f"{package}.{self.handler.rsplit('.', 1)[0]}"

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass
class Stack:
    template: dict[str, Any]
    prefix: str = LOCAL_PREFIX
    parameters: dict[str, str] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    region: str = "us-east-1"
    account: str = "123456789012"
    parameter_sources: dict[str, str] = field(default_factory=dict)  # name -> where a non-default value came from

    def __post_init__(self) -> None:
        for name, spec in self.template.get("Parameters", {}).items():
            self.parameters.setdefault(name, str(spec.get("Default", "")))
        globals_fn = self.template.get("Globals", {}).get("Function", {})
        for logical_id, res in self.resources_of("AWS::Serverless::Function").items():
            props = {**globals_fn, **res.get("Properties", {})}
            env = {
                **globals_fn.get("Environment", {}).get("Variables", {}),
                **res.get("Properties", {}).get("Environment", {}).get("Variables", {}),
            }
            fn = Function(
                logical_id=logical_id,
                code_uri=props["CodeUri"],
                handler=props["Handler"],
                environment={k: str(self.resolve(v)) for k, v in env.items()},
                timeout=int(props.get("Timeout", 3)),
                memory=int(props.get("MemorySize", 128)),
                function_url="FunctionUrlConfig" in props,
                on_failure_queue=_on_failure_queue(props.get("EventInvokeConfig")),
            )
            for event in (props.get("Events") or {}).values():
                kind, eprops = event["Type"], event.get("Properties", {})
                if kind == "HttpApi":
                    fn.routes.append(
                        Route(
                            method=str(eprops.get("Method", "ANY")).upper(),
                            path=eprops.get("Path", "/{proxy+}"),
                            function=logical_id,
                            api=_api_id(eprops.get("ApiId")),
                        )
                    )
                elif kind == "SQS":
                    fn.sqs_sources.append({**eprops, "Queue": self.resolve(eprops["Queue"])})
                elif kind == "DynamoDB":
                    fn.stream_sources.append({**eprops, "Stream": self.stream_table(eprops["Stream"])})
                elif kind in ("Schedule", "ScheduleV2"):
                    fn.schedules.append(eprops)
            self.functions[logical_id] = fn

    # -------------------------------------------------------------- resources
    def resources_of(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template.get("Resources", {}).items() if v.get("Type") == kind}

    def physical_name(self, logical_id: str) -> str:
        """The local name of a resource; FIFO queues keep the ``.fifo`` suffix AWS requires."""
        res = self.template.get("Resources", {}).get(logical_id, {})
        fifo = res.get("Type") == "AWS::SQS::Queue" and res.get("Properties", {}).get("FifoQueue")
        return f"{self.prefix}-{logical_id}" + (".fifo" if fifo else "")

    @property
    def pseudo_parameters(self) -> dict[str, str]:
        return {
            "AWS::Region": self.region,
            "AWS::StackName": self.prefix,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": "",
        }

    def stream_table(self, ref: Any) -> str:
        """The logical id of the table whose stream ``ref`` (``!GetAtt Table.StreamArn``) names: the stream's ARN
        exists only once the table does (DescribeTable's LatestStreamArn)."""
        if isinstance(ref, dict) and "Fn::GetAtt" in ref and ref["Fn::GetAtt"][1] == "StreamArn":
            return ref["Fn::GetAtt"][0]
        raise ValueError(f"a DynamoDB event source's Stream must be !GetAtt <Table>.StreamArn, not {ref!r}")

    def queue_url(self, logical_id: str, endpoint: str) -> str:
        return f"{endpoint.rstrip('/')}/{self.account}/{self.physical_name(logical_id)}"

    def resolve(self, value: Any) -> Any:
        """Resolve the intrinsics local resources need; anything else stays as-is."""
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                if arg in self.parameters:
                    return self.parameters[arg]
                if arg in self.pseudo_parameters:
                    return self.pseudo_parameters[arg]
                res = self.template.get("Resources", {}).get(arg, {})
                if res.get("Type") == "AWS::SQS::Queue":
                    return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self.physical_name(arg)}"
                if res.get("Type") == "AWS::SecretsManager::Secret":
                    return f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{self.physical_name(arg)}"
                return self.physical_name(arg)
            if key == "Fn::GetAtt":
                logical_id, attr = arg
                if attr == "Arn":
                    res_type = self.template["Resources"][logical_id]["Type"]
                    service = {"AWS::SQS::Queue": "sqs", "AWS::DynamoDB::Table": "dynamodb"}.get(res_type, "lambda")
                    name = self.physical_name(logical_id)
                    if service == "dynamodb":
                        return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}"
                    if res_type == "AWS::IAM::Role":
                        return f"arn:aws:iam::{self.account}:role/{name}"
                    if service == "lambda":
                        return f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
                    return f"arn:aws:{service}:{self.region}:{self.account}:{name}"
                if attr == "QueueName":
                    return self.physical_name(logical_id)
                return self.physical_name(logical_id)
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1] if len(arg) > 1 else {})

                def substitute(m: re.Match[str]) -> str:
                    name = m.group(1)
                    if name in variables:
                        return str(self.resolve(variables[name]))
                    return str(self.resolve({"Fn::GetAtt": name.split(".", 1)} if "." in name else {"Ref": name}))

                return re.sub(r"\$\{([^}!]+)\}", substitute, text)
        return value

    def routes(self, api: str | None = None) -> list[Route]:
        """The routes of every HTTP API, or of ``api`` (a logical id), most specific first."""
        routes = [r for fn in self.functions.values() for r in fn.routes if api is None or r.api == api]
        return sorted(routes, key=lambda r: r.specificity)

    @property
    def apis(self) -> list[str]:
        """The HTTP APIs routes use, the main one first (:data:`MAIN_API`, or the one with the most routes), then
        the others in template order. The local cloud serves them on consecutive ports in this order."""
        declared = list(self.resources_of("AWS::Serverless::HttpApi"))
        used = [r.api for fn in self.functions.values() for r in fn.routes]
        apis = [a for a in dict.fromkeys([*declared, *used]) if a in used]
        main = MAIN_API if MAIN_API in apis else max(apis, key=used.count, default=None)
        return [main, *(a for a in apis if a != main)] if main else []

    # -------------------------------------------------------------- provisioning
    def table_definitions(self) -> dict[str, dict[str, Any]]:
        """create_table arguments for every AWS::DynamoDB::Table, keyed by physical name."""
        out = {}
        for logical_id, res in self.resources_of("AWS::DynamoDB::Table").items():
            props = res["Properties"]
            args: dict[str, Any] = {
                "TableName": self.physical_name(logical_id),
                "AttributeDefinitions": props["AttributeDefinitions"],
                "KeySchema": props["KeySchema"],
                "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
            }
            if props.get("GlobalSecondaryIndexes"):
                args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            if props.get("StreamSpecification"):
                args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
            out[args["TableName"]] = {"create": args, "ttl": props.get("TimeToLiveSpecification")}
        return out

    def create_tables(self, dynamodb: Any) -> list[str]:
        existing = set(dynamodb.list_tables().get("TableNames", []))
        created = []
        for name, spec in self.table_definitions().items():
            if name in existing:
                continue
            dynamodb.create_table(**spec["create"])
            if spec["ttl"]:
                dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
                dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=spec["ttl"])
            created.append(name)
        return created

    def create_queues(self, sqs: Any) -> dict[str, str]:
        """Create every AWS::SQS::Queue (dead-letter queues first); returns logical id → queue URL."""
        queues = self.resources_of("AWS::SQS::Queue")
        urls: dict[str, str] = {}

        def create(logical_id: str) -> str:
            if logical_id in urls:
                return urls[logical_id]
            props = dict(queues[logical_id].get("Properties", {}))
            attrs: dict[str, str] = {}
            redrive = props.pop("RedrivePolicy", None)
            if redrive:
                dlq = redrive["deadLetterTargetArn"]
                dlq_id = dlq["Fn::GetAtt"][0] if isinstance(dlq, dict) else dlq
                create(dlq_id)
                attrs["RedrivePolicy"] = __import__("json").dumps(
                    {
                        "deadLetterTargetArn": self.resolve({"Fn::GetAtt": [dlq_id, "Arn"]}),
                        "maxReceiveCount": int(self.resolve(redrive.get("maxReceiveCount", 3))),
                    }
                )
            for key in (
                "VisibilityTimeout",
                "DelaySeconds",
                "MessageRetentionPeriod",
                "ReceiveMessageWaitTimeSeconds",
                "FifoQueue",
                "ContentBasedDeduplication",
            ):
                if key in props:
                    value = self.resolve(props[key])  # a parameter (!Ref) resolves to its local value
                    attrs[key] = str(value).lower() if isinstance(value, bool) else str(value)
            name = self.physical_name(logical_id)
            urls[logical_id] = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
            return urls[logical_id]

        for logical_id in queues:
            create(logical_id)
        return urls

    def environment(self) -> dict[str, str]:
        """The union of every function's environment (they agree on everything but the service name)."""
        env: dict[str, str] = {}
        for fn in self.functions.values():
            env.update({k: v for k, v in fn.environment.items() if k != "POWERTOOLS_SERVICE_NAME"})
        return env


def _api_id(ref: Any) -> str:
    """The logical id an HttpApi event's ``ApiId`` names (``!Ref X``); SAM's implicit API when there is none."""
    if isinstance(ref, dict) and "Ref" in ref:
        return str(ref["Ref"])
    return str(ref) if ref else "ServerlessHttpApi"


def _on_failure_queue(config: Any) -> str | None:
    destination = (((config or {}).get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    if isinstance(destination, dict) and "Fn::GetAtt" in destination:
        return destination["Fn::GetAtt"][0]
    return None


def stack(path: Path = TEMPLATE, prefix: str = LOCAL_PREFIX, parameters: dict[str, str] | None = None) -> Stack:
    """The stack of ``path``; ``parameters`` override the template's parameter defaults (e.g. ``Stage=local``)."""
    return Stack(template=load(path), prefix=prefix, parameters=dict(parameters or {}))
