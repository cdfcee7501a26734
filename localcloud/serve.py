"""``python -m localcloud serve``: the whole local cloud in one process until Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

from localcloud.cloud import DynamoDBMode, LocalCloud, local_stack, parameter_problems, parameter_variables
from localcloud.demo import banner_lines as demo_banner
from localcloud.demo import seed as seed_demo
from localcloud.docs import ApiDocs
from localcloud.dynamodb_local import available as dynamodb_local_available
from localcloud.fcm import FakeFcm
from localcloud.lambdas import Functions
from localcloud.scheduler import Scheduler
from localcloud.server import Gateway, make_server
from localcloud.sink import Sink
from localcloud.sqs import SqsPoller, event_sources
from localcloud.state import remove_state, running_state, write_state
from localcloud.streams import StreamPoller, stream_sources
from localcloud.template import ROOT, TEMPLATE, Stack

log = logging.getLogger("localcloud")


class _Background(Protocol):
    def stop(self, wait: bool = True) -> None: ...


def serve(
    *,
    port: int = 3000,
    host: str = "127.0.0.1",
    dynamodb: DynamoDBMode = "moto",
    data_dir: Path = Path(".localcloud"),
    template: Path = TEMPLATE,
    parameters: dict[str, str] | None = None,
    demo: bool = True,
) -> int:
    data_dir = data_dir.resolve()
    other = running_state(data_dir)
    if other:
        print(
            f"A local cloud already runs on {_short(data_dir)} (pid {other['pid']}, {other.get('api_url')}).",
            file=sys.stderr,
        )
        return 1
    if dynamodb == "local":
        ok, reason = dynamodb_local_available()
        if not ok:
            print(reason, file=sys.stderr)
            return 1
    stack = local_stack(template, parameters, os.environ)
    unknown = sorted(set(parameters or {}) - set(stack.template.get("Parameters", {})))
    if unknown:
        print(f"{template.name} has no parameter {', '.join(unknown)}", file=sys.stderr)
        return 1
    problems = parameter_problems(stack)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    fake_fcm = None
    if "FcmEndpoint" in stack.parameters and not stack.parameters["FcmEndpoint"]:
        # Lock commands go to a fake FCM on loopback unless --param FcmEndpoint=... names another.
        fake_fcm = FakeFcm(host="127.0.0.1").start()
        sources = stack.parameter_sources
        stack = local_stack(template, {**(parameters or {}), "FcmEndpoint": fake_fcm.url}, os.environ)
        stack.parameter_sources = {**sources, "FcmEndpoint": "the local cloud's fake FCM"}
    functions = Functions(stack)
    gateways = [Gateway(functions, ApiDocs(functions, api=api), api=api) for api in functions.apis]
    servers: list[ThreadingHTTPServer] = []
    try:
        # Each HTTP API on its own port: the main one on --port, the others on the next ones (--port 0: any free).
        for i, gateway in enumerate(gateways):  # a busy port fails here, before anything starts
            servers.append(make_server(gateway, host, port + i if port else 0))
    except OSError as exc:
        busy = port + len(servers) if port else 0
        print(f"Cannot listen on {host}:{busy}: {exc.strerror}. Pick another with --port.", file=sys.stderr)
        for server in servers:
            server.server_close()
        if fake_fcm is not None:
            fake_fcm.stop()
        return 1
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        # Every step registers its own undo; they all run, newest first, even if one fails or Ctrl-C comes early.
        with contextlib.ExitStack() as cleanup:
            for server in servers:
                cleanup.callback(server.server_close)
            if fake_fcm is not None:
                cleanup.callback(fake_fcm.stop)
            cloud = LocalCloud(stack, data_dir, dynamodb=dynamodb)
            cleanup.callback(cloud.stop)
            cloud.start()
            try:
                workers = _start_workers(stack, functions, cloud)
            except ValueError as exc:  # a schedule expression AWS would reject
                print(f"{template.name}: {exc}", file=sys.stderr)
                return 1
            cleanup.callback(_stop_all, workers)
            for logical_id in stack.functions:  # import every handler now: an import error shows at start
                functions.handler(logical_id)
            for gateway in gateways:  # built now: it also warns about routes the template and the apps disagree on
                gateway.docs.openapi_json()
            shown_host = _display_host(host)
            urls = {g.api: f"http://{shown_host}:{s.server_address[1]}" for g, s in zip(gateways, servers, strict=True)}
            api_url = urls.get(functions.main_api, "")
            demo_lines: list[str] = []
            if demo:
                sink = Sink(host="127.0.0.1").start()
                cleanup.callback(sink.stop)
                demo_lines = demo_banner(seed_demo(functions, sink.url), api_url, sink.url)
            write_state(
                data_dir,
                {
                    "endpoint": cloud.endpoint,
                    "dynamodb_endpoint": cloud.dynamodb_endpoint,
                    "api_url": api_url,
                    "apis": urls,
                    "pid": os.getpid(),
                    "dynamodb": dynamodb,
                    "fcm_endpoint": stack.parameters.get("FcmEndpoint", ""),
                },
            )
            cleanup.callback(remove_state, data_dir)
            _banner(stack, gateways, urls, cloud, data_dir, template, workers, demo_lines)
            cleanup.callback(_say, "\nStopping the local cloud...")
            for server in servers[1:]:
                name = f"http-{server.server_address[1]}"
                threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
                cleanup.callback(server.shutdown)
            servers[0].serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM stops as cleanly as Ctrl-C


def _say(text: str) -> None:
    try:
        print(text, file=sys.stderr, flush=True)
    except OSError:  # the console is gone (a closed pipe): stopping matters more than saying so
        pass


def _stop_all(workers: list[_Background]) -> None:
    for worker in workers:
        worker.stop(wait=False)  # all at once: each may be in a 1 s long poll
    for worker in workers:
        worker.stop()


def _start_workers(stack: Stack, functions: Functions, cloud: LocalCloud) -> list[_Background]:
    import boto3

    session = boto3.session.Session(region_name=stack.region)
    sqs = session.client("sqs")
    # Built before anything starts: an invalid schedule expression raises here, with no thread left behind.
    scheduler = Scheduler(stack, functions.invoke, scheduler=session.client("scheduler"), sqs=sqs)
    pollers: list[_Background] = [
        SqsPoller(source, sqs, functions.invoke) for source in event_sources(stack, sqs, cloud.queue_urls)
    ]
    dynamodb, streams = session.client("dynamodb"), session.client("dynamodbstreams")
    pollers += [
        StreamPoller(
            source, dynamodb=dynamodb, streams=streams, invoke=functions.invoke, sqs=sqs, queue_urls=cloud.queue_urls
        )
        for source in stream_sources(stack)
    ]
    return [worker.start() for worker in [*pollers, scheduler]]


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0") else host


def _short(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# The upstreams the banner reports: name -> (the parameter that switches it on, the others it needs).
UPSTREAMS = {
    "Mobivisor": ("MobivisorApiUrl", ("MobivisorApiToken",)),
    "Microshare": (
        "MicroshareApiUrl",
        ("MicroshareAuthUrl", "MicroshareUsername", "MicrosharePassword", "MicroshareApiKey"),
    ),
    "SMS": ("SmsProviderUrl", ()),
}


def _secret(stack: Stack, name: str) -> bool:
    return str(stack.template["Parameters"].get(name, {}).get("NoEcho", "")).lower() == "true"


def _shown(stack: Stack, name: str) -> str:
    """A parameter's value as the banner shows it: NoEcho ones (passwords, tokens) only as set or not."""
    value = stack.parameters.get(name, "")
    return ("set" if value else "empty") if _secret(stack, name) else value


def _from(stack: Stack, name: str) -> str:
    return stack.parameter_sources.get(name, "template default")


def upstream_lines(stack: Stack) -> list[str]:
    """Which upstreams are configured, and from where (a shell variable, --param, a default); never a secret."""
    lines = []
    for upstream, (main, others) in UPSTREAMS.items():
        if main not in stack.parameters:
            continue
        names = (main, *others)
        missing = [n for n in names if not stack.parameters.get(n)]
        if not stack.parameters.get(main) and len(missing) == len(names):
            variables = [v for v, n in parameter_variables(stack.template).items() if n in names]
            lines.append(f"  {upstream:<14} not configured (set {', '.join(variables) or main} before make dev)")
            continue
        parts = [f"{n}={_shown(stack, n)} ({_from(stack, n)})" for n in names if stack.parameters.get(n)]
        state = "configured" if not missing else f"incomplete, missing {', '.join(missing)}"
        lines.append(f"  {upstream:<14} {state}: {'; '.join(parts)}")
    return lines


def _banner(
    stack: Stack,
    gateways: list[Gateway],
    urls: dict[str, str],
    cloud: LocalCloud,
    data_dir: Path,
    template: Path,
    background: list[_Background],
    demo: list[str],
) -> None:
    where = template.relative_to(ROOT) if template.is_relative_to(ROOT) else template
    shown = {"Stage", "FcmEndpoint", *(n for main, others in UPSTREAMS.values() for n in (main, *others))}
    lines = [
        f"Fleetgate local cloud ({where}, Stage={stack.parameters.get('Stage')}, pid {os.getpid()})",
        *(
            f"  Parameter      {name}={_shown(stack, name)}   ({_from(stack, name)})"
            for name, value in sorted(stack.parameters.items())
            if name not in shown and str(stack.template["Parameters"][name].get("Default", "")) != value
        ),
    ]
    main = gateways[0]
    for gateway in gateways:
        url = urls[gateway.api]
        label = "API" if gateway is main else (gateway.docs.title.removeprefix("Fleetgate ") if gateway.docs else "API")
        lines.append(f"  {label:<14} {url}/   ({gateway.api})")
        lines.append(f"  {'':<14} {url}/docs   (OpenAPI: {url}/openapi.json)")
    for logical_id in sorted(main.function_urls):
        lines.append(f"  Function URL   {urls[main.api]}{main.function_url_path(logical_id)}   ({logical_id})")
    lines.append(
        f"  AWS endpoint   {cloud.endpoint}   (moto: SQS, Secrets Manager, Scheduler"
        f"{', DynamoDB' if cloud.dynamodb == 'moto' else ''})"
    )
    lines += upstream_lines(stack)
    if stack.parameters.get("FcmEndpoint"):
        lines.append(f"  FCM            {stack.parameters['FcmEndpoint']}   ({_from(stack, 'FcmEndpoint')})")
    if cloud.dynamodb == "local":
        lines.append(
            f"  DynamoDB       {cloud.dynamodb_endpoint}   (DynamoDB Local, data in {_short(data_dir / 'dynamodb')})"
        )
    for worker in background:
        if isinstance(worker, SqsPoller):
            src = worker.source
            lines.append(f"  SQS            {src.queue_arn.rsplit(':', 1)[-1]} -> {src.function}")
        elif isinstance(worker, StreamPoller):
            stream = worker.source
            lines.append(f"  Stream         {stream.table_name} -> {stream.function}")
        elif isinstance(worker, Scheduler):
            for plan in worker.template:
                when = f"{plan.next_fire:%Y-%m-%d %H:%M} UTC" if plan.next_fire else "never"
                lines.append(f"  Schedule       {plan.text} -> {plan.function} (next: {when})")
    for gateway in gateways:
        for problem in gateway.docs.mismatches if gateway.docs else []:
            lines.append(f"  WARNING        {problem}")
    lines.append(f"  State          {_short(data_dir / 'state.json')}")
    lines += demo or ["  Demo           none (--no-demo)"]
    lines.append("Ctrl-C to stop.")
    print("\n".join(lines), flush=True)
