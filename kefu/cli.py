"""The ``kefu`` command: ``serve``, ``create-user``, ``actors list|restart``, ``backup``,
``restore FILE``, ``bench``, ``simulate``.

Admin subcommands talk to a running server over its REST API, logging in with
``KEFU_DATA_DIR/admin-credentials`` (or ``--user``/``--password``); ``restore`` works on
Redis directly and only while the server is stopped (``kefu/restore.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kefu import progress
from kefu.config import Settings


def _serve_parser(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the server (all settings also as KEFU_* env vars)")
    for name, field in Settings.model_fields.items():
        flag = "--" + name.replace("_", "-")
        env = "KEFU_" + name.upper()
        p.add_argument(flag, dest=name, default=None, help=f"env {env} (default: {field.default})")


def _client_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=None, help="server URL (default http://KEFU_HOST:KEFU_PORT)")
    p.add_argument("--user", default=None)
    p.add_argument("--password", default=None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kefu", description="kefu live-chat service")
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    cu = sub.add_parser("create-user", help="create a user through the REST API")
    _client_args(cu)
    cu.add_argument("--id", dest="user_id", default=None)
    cu.add_argument("--name", required=True)
    cu.add_argument("--type", dest="user_type", choices=["kefu", "kehu", "admin"], required=True)
    cu.add_argument("--new-password", default=None)
    cu.add_argument("--max-sessions", type=int, default=5)
    ws = sub.add_parser("ws", help="connect to /ws, send frames, print what arrives")
    ws.add_argument("--url", default=None, help="ws URL (default ws://KEFU_HOST:KEFU_PORT/ws)")
    ws.add_argument("--token", required=True)
    ws.add_argument("--send", action="append", default=[], help="a JSON frame (repeatable)")
    ws.add_argument("--seconds", type=float, default=2.0, help="listen this long, then exit")
    ws.add_argument("--follow", action="store_true", help="listen until Ctrl-C")
    actors = sub.add_parser("actors", help="list or restart supervised actors")
    asub = actors.add_subparsers(dest="actors_command", required=True)
    al = asub.add_parser("list")
    _client_args(al)
    ar = asub.add_parser("restart")
    _client_args(ar)
    ar.add_argument("actor_id")
    bk = sub.add_parser("backup", help="back up the project's Redis keys (via the running "
                        "server) into KEFU_DATA_DIR/backups/")
    _client_args(bk)
    progress.add_arguments(bk)
    rs = sub.add_parser("restore", help="restore a backup file straight into Redis "
                        "(KEFU_REDIS_URL or the embedded one); the server must be stopped")
    rs.add_argument("file")
    progress.add_arguments(rs)
    from kefu.retention_cli import add_parser as purge_parser  # noqa: PLC0415

    purge_parser(sub)  # kefu purge [--days N] [--dry-run] (docs/data-rights.md)
    from kefu.simulate import build_parser as simulate_parser  # noqa: PLC0415

    simulate_parser(sub.add_parser("simulate", help="replay a synthetic day through the "
                                   "routing policy, per strategy (docs/routing.md)"))
    from kefu.bench.suite import build_parser as bench_parser  # noqa: PLC0415

    bench_parser(sub.add_parser("bench", help="run the benchmark scenarios (relay, baseline, "
                                "connections, burst, recovery, history) against fresh "
                                "servers; same as scripts/bench"))
    return parser


class Client:
    """A tiny admin REST client (stdlib only)."""

    def __init__(self, args: argparse.Namespace) -> None:
        settings = Settings()
        self.base = args.url or f"http://{settings.host}:{settings.port}"
        user, password = args.user, args.password
        if user is None or password is None:
            creds = json.loads(Path(settings.credentials_file).read_text())
            user, password = creds["user_id"], creds["password"]
        self.token = self.call("POST", "/api/auth/login",
                               {"user_id": user, "password": password})["data"]["token"]

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if getattr(self, "token", None):
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read() or b"{}")


def _backup(client: Client, show_progress: bool | None) -> Any:
    """``kefu backup``: the server dumps inside its write pause (at most 4 s), so the bar
    counts time until the reply, then shows the keys written."""
    with progress.bar(None, "backup", "key", show_progress) as pb:
        out = client.call("POST", "/api/system/backup")
        count = (out.get("data") or {}).get("key_count") if out.get("success") else None
        if isinstance(count, int):
            progress.finish(pb, count)
    return out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        overrides = {k: v for k, v in vars(args).items()
                     if k in Settings.model_fields and v is not None}
        from kefu.server import run  # noqa: PLC0415

        try:
            settings = Settings(**overrides)
        except ValidationError as exc:  # a clear line, not a traceback
            for err in exc.errors():
                where = ".".join(str(x) for x in err["loc"]) or "settings"
                print(f"kefu: {where}: {err['msg']}", file=sys.stderr)
            return 2
        return run(settings)
    if args.command == "ws":
        from kefu.wsclient import main as ws_main  # noqa: PLC0415

        settings = Settings()
        url = args.url or f"ws://{settings.host}:{settings.port}/ws"
        return ws_main(url, args.token, args.send, args.seconds, args.follow)
    if args.command == "simulate":
        from kefu.simulate import main as simulate_main  # noqa: PLC0415

        return simulate_main(args)
    if args.command == "bench":
        from kefu.bench.suite import main as bench_main  # noqa: PLC0415

        return bench_main(args=args)
    if args.command == "restore":
        from kefu.restore import main as restore_main  # noqa: PLC0415

        return restore_main(args.file, Settings(), args.progress)
    if args.command == "purge":
        from kefu.retention_cli import main as purge_main  # noqa: PLC0415

        return purge_main(args, Settings())
    client = Client(args)
    if args.command == "create-user":
        body = {"name": args.name, "user_type": args.user_type, "max_sessions": args.max_sessions}
        if args.user_id:
            body["id"] = args.user_id
        if args.new_password:
            body["password"] = args.new_password
        out = client.call("POST", "/api/users/create", body)
    elif args.command == "backup":
        out = _backup(client, args.progress)
    elif args.actors_command == "list":
        out = client.call("GET", "/api/system/actors")
    else:
        out = client.call("POST", f"/api/system/actors/{args.actor_id}/restart")
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0 if out.get("success") else 1


if __name__ == "__main__":
    sys.exit(main())
