"""Command line of the local cloud. Run from the repository root with the venv's python:

python -m localcloud serve [--port 3000] [--host 127.0.0.1] [--dynamodb moto|local] [--data-dir .localcloud]
                           [--param Name=Value ...] [--no-demo]
python -m localcloud create-admin EMAIL USERNAME [PASSWORD] [--stack NAME [--region R]]
python -m localcloud invoke LogicalId EVENT.json [--user-id ID] [--role user|admin]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from localcloud.state import DEFAULT_DATA_DIR
from localcloud.template import TEMPLATE


def _logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s", "%H:%M:%S"))
    root = logging.getLogger("localcloud")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m localcloud", description="Fleetgate's local cloud (dev only).")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="state.json, secrets.json and DynamoDB Local's files (default: .localcloud)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="debug logs")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", parents=[common], help="run API, queues and schedules until Ctrl-C")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--dynamodb",
        choices=["moto", "local"],
        default="moto",
        help="moto (fast, in memory) or local: DynamoDB Local, the real engine, kept in --data-dir",
    )
    serve.add_argument("--template", type=Path, default=TEMPLATE, help=argparse.SUPPRESS)
    serve.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a template parameter (repeatable), e.g. FlowQueueVisibilityTimeout=2",
    )

    serve.add_argument(
        "--no-demo",
        dest="demo",
        action="store_false",
        help="start empty: no demo account, device, function, integration, flow and ingest key on a new data folder",
    )

    admin = commands.add_parser("create-admin", parents=[common], help="create an admin user (or promote one)")
    admin.add_argument("email")
    admin.add_argument("username")
    admin.add_argument("password", nargs="?", help="prompted for when left out (keeps it out of shell history)")
    admin.add_argument("--stack", help="a deployed stack's name: use its tables, with your AWS credentials")
    admin.add_argument("--region", help="the deployed stack's region")

    invoke = commands.add_parser("invoke", parents=[common], help="run one function with one event")
    invoke.add_argument("function", metavar="LogicalId")
    invoke.add_argument("event", metavar="EVENT.json", help="an event file, or - for stdin")
    invoke.add_argument("--user-id", default="local-dev-user", help="subject of the token that replaces {{token}}")
    invoke.add_argument("--role", choices=["user", "admin"], default="user", help="role in that token")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _logging(args.verbose)
    if args.command == "serve":
        from localcloud.serve import serve

        parameters = {}
        for item in args.param:
            name, sep, value = item.partition("=")
            if not sep or not name:
                print(f"--param needs NAME=VALUE, got {item!r}", file=sys.stderr)
                return 2
            parameters[name] = value
        return serve(
            port=args.port,
            host=args.host,
            dynamodb=args.dynamodb,
            data_dir=args.data_dir,
            template=args.template.resolve(),
            parameters=parameters,
            demo=args.demo,
        )
    if args.command == "create-admin":
        from localcloud.admin import create_admin

        return create_admin(
            args.email, args.username, args.password, data_dir=args.data_dir, stack_name=args.stack, region=args.region
        )
    from localcloud.invoke import invoke

    return invoke(args.function, args.event, data_dir=args.data_dir, user_id=args.user_id, role=args.role)


if __name__ == "__main__":
    sys.exit(main())
