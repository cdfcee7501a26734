"""``python -m localcloud serve``: the whole local cloud in one process until Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, Protocol

from localcloud.cloud import DynamoDBMode, LocalCloud, local_stack
from localcloud.docs import ApiDocs
from localcloud.dynamodb_local import available as dynamodb_local_available
from localcloud.fcm import FakeFcm
from localcloud.lambdas import Functions
from localcloud.scheduler import Scheduler
from localcloud.server import Gateway, make_server
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
    stack = local_stack(template, parameters)
    unknown = sorted(set(parameters or {}) - set(stack.template.get("Parameters", {})))
    if unknown:
        print(f"{template.name} has no parameter {', '.join(unknown)}", file=sys.stderr)
        return 1
    fake_fcm = None
    if "FcmEndpoint" in stack.parameters and not stack.parameters["FcmEndpoint"]:
        # Lock commands go to a fake FCM on loopback unless --param FcmEndpoint=... names another.
        fake_fcm = FakeFcm(host="127.0.0.1").start()
        stack = local_stack(template, {**(parameters or {}), "FcmEndpoint": fake_fcm.url})
    functions = Functions(stack)
    docs = ApiDocs(functions)
    gateway = Gateway(functions, docs)
    try:
        httpd = make_server(gateway, host, port)  # a busy port fails here, before anything starts
    except OSError as exc:
        print(f"Cannot listen on {host}:{port}: {exc.strerror}. Pick another with --port.", file=sys.stderr)
        if fake_fcm is not None:
            fake_fcm.stop()
        return 1
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        # Every step registers its own undo; they all run, newest first, even if one fails or Ctrl-C comes early.
        with contextlib.ExitStack() as cleanup:
            cleanup.callback(httpd.server_close)
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
            docs.openapi_json()  # built now: it also warns about routes the template and the apps disagree on
            api_url = f"http://{_display_host(host)}:{httpd.server_address[1]}"
            write_state(
                data_dir,
                {
                    "endpoint": cloud.endpoint,
                    "dynamodb_endpoint": cloud.dynamodb_endpoint,
                    "api_url": api_url,
                    "pid": os.getpid(),
                    "dynamodb": dynamodb,
                    "fcm_endpoint": stack.parameters.get("FcmEndpoint", ""),
                },
            )
            cleanup.callback(remove_state, data_dir)
            _banner(stack, gateway, cloud, api_url, data_dir, template, workers)
            cleanup.callback(_say, "\nStopping the local cloud...")
            httpd.serve_forever()
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


def _banner(
    stack: Stack,
    gateway: Gateway,
    cloud: LocalCloud,
    api_url: str,
    data_dir: Path,
    template: Path,
    background: list[_Background],
) -> None:
    where = template.relative_to(ROOT) if template.is_relative_to(ROOT) else template
    lines = [
        f"Fleetgate local cloud ({where}, Stage={stack.parameters.get('Stage')}, pid {os.getpid()})",
        *(
            f"  Parameter      {name}={value}"
            for name, value in sorted(stack.parameters.items())
            if name not in ("Stage", "OutboundAllow", "FcmEndpoint")
            and str(stack.template["Parameters"][name].get("Default", "")) != value
        ),
        f"  API            {api_url}/",
        f"  Docs           {api_url}/docs   (OpenAPI: {api_url}/openapi.json)",
    ]
    for logical_id in sorted(gateway.function_urls):
        lines.append(f"  Function URL   {api_url}{gateway.function_url_path(logical_id)}   ({logical_id})")
    lines.append(
        f"  AWS endpoint   {cloud.endpoint}   (moto: SQS, Secrets Manager, Scheduler"
        f"{', DynamoDB' if cloud.dynamodb == 'moto' else ''})"
    )
    if stack.parameters.get("FcmEndpoint"):
        lines.append(
            f"  FCM            {stack.parameters['FcmEndpoint']}   (FcmEndpoint: lock commands and reminders go here)"
        )
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
    for problem in gateway.docs.mismatches if gateway.docs else []:
        lines.append(f"  WARNING        {problem}")
    lines.append(f"  State          {_short(data_dir / 'state.json')}")
    lines.append("Ctrl-C to stop.")
    print("\n".join(lines), flush=True)
