"""Operator comfort (issue 16): JSON logs with the request id, progress bars on the long
CLI jobs, and a WebSocket chat through the shipped ``deploy/nginx.conf``."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kefu.persistence.embedded import die_with_parent
from kefu.testing import deploy_configs
from kefu.testing.processes import KEFU_BIN, free_port
from tests.helpers import WS, Api, RedisServer, ServerProcess, running, uid


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running(Path(tmp_path_factory.mktemp("srv")), KEFU_LOG_FORMAT="json") as srv:
        yield srv


def cli(srv: ServerProcess, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``kefu ARGS`` with stderr captured (not a terminal: no bar unless forced)."""
    full = {**srv.full_env, **env}
    if "KEFU_PROGRESS" not in env:
        full.pop("KEFU_PROGRESS", None)
    return subprocess.run([KEFU_BIN, *args], env=full, capture_output=True, text=True,
                          timeout=60)


def log_lines(srv: ServerProcess, want: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Every line of the server's log as JSON, once a line with ``want`` is there."""
    deadline = time.monotonic() + timeout
    while True:
        text = srv.log.read_text()
        if want in text or time.monotonic() > deadline:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        time.sleep(0.05)  # polling the child's log file


def test_json_log_lines_carry_the_request_id(server: ServerProcess) -> None:
    admin = Api.login(server.base, "admin", "admin-pass")
    made = admin.call("POST", "/api/system/backup")
    assert made.status_code == 200
    backup_id = made.headers["X-Request-Id"]
    missing = admin.call("GET", f"/api/{uid('nope')}")  # same keep-alive connection
    assert missing.status_code == 404
    missing_id = missing.headers["X-Request-Id"]
    assert missing_id != backup_id

    lines = log_lines(server, missing_id)  # every line parses as JSON
    assert all({"time", "level", "logger", "message"} <= set(x) for x in lines)
    mine = [x for x in lines if x.get("request_id") == backup_id]
    # logged on an executor thread (run_io) while the request ran: the id went along
    event = next(x for x in mine if x["logger"] == "kefu.events")
    assert event["event"] == "backup_created" and event["actor"] == "admin"
    assert event["fields"]["key_count"] == made.json()["data"]["key_count"]
    access = [x for x in lines if x.get("request_id") == missing_id]
    assert [(x["logger"], x["level"]) for x in access] == [("tornado.access", "warning")]
    assert "404 GET" in access[0]["message"]
    # start-up lines belong to no request
    assert any("request_id" not in x for x in lines)


def test_progress_bars_on_backup_and_restore(server: ServerProcess, tmp_path: Path) -> None:
    shown = cli(server, "backup", "--progress")
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)["data"]
    n = info["key_count"]
    assert "backup: 100%|" in shown.stderr and f"{n}/{n}" in shown.stderr
    quiet = cli(server, "backup")
    assert quiet.returncode == 0 and "%|" not in quiet.stderr, quiet.stderr

    # restore into a Redis of its own (the module's server keeps running)
    rs = RedisServer(tmp_path / "redis").start()
    try:
        elsewhere = {"KEFU_REDIS_URL": rs.url, "KEFU_PORT": str(free_port())}
        done = cli(server, "restore", info["path"], KEFU_PROGRESS="1", **elsewhere)
        assert done.returncode == 0, done.stdout + done.stderr
        restored = json.loads(done.stdout)["data"]
        assert restored["restored"] + restored["expired"] == n
        assert "restore: 100%|" in done.stderr and f"{n}/{n}" in done.stderr
        flag_wins = cli(server, "restore", info["path"], "--no-progress", KEFU_PROGRESS="1",
                        **elsewhere)
        assert flag_wins.returncode == 0 and "%|" not in flag_wins.stderr
    finally:
        rs.stop()


def test_progress_bar_on_simulate() -> None:
    args = [KEFU_BIN, "simulate", "--agents", "3", "--hours", "0.1",
            "--strategies", "least_loaded"]
    shown = subprocess.run([*args, "--progress"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    customers = int(shown.stdout.split(" customers")[0].rsplit(" ", 1)[-1].replace(",", ""))
    assert "simulate least_loaded: 100%|" in shown.stderr
    assert f"{customers}/{customers}" in shown.stderr
    quiet = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert quiet.returncode == 0 and quiet.stderr == ""


# --- deploy/nginx.conf ---------------------------------------------------------------


@contextlib.contextmanager
def nginx_in_front(server: ServerProcess, root: Path) -> Iterator[str]:
    """``deploy/nginx.conf`` rendered for ``server``, running → its base URL."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        pytest.skip("nginx is not installed (scripts/test installs it)")
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(deploy_configs.nginx(port, [server.port], root))
    checked = subprocess.run([binary, "-t", "-c", str(conf)], capture_output=True, text=True,
                             timeout=30)
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen([binary, "-c", str(conf), "-g", "daemon off;"],
                            stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)  # noqa: PLW1509
    try:
        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, (root / "error.log").read_text()
            with socket.socket() as s, contextlib.suppress(OSError):
                s.connect(("127.0.0.1", port))
                break
            assert time.monotonic() < deadline, "nginx did not listen"
            time.sleep(0.05)  # polling a child process's port
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_websocket_chat_through_the_shipped_nginx(server: ServerProcess,
                                                 tmp_path: Path) -> None:
    with nginx_in_front(server, tmp_path / "nginx") as front:
        admin = Api.login(f"http://{front}", "admin", "admin-pass")
        kefu_id, kefu = admin.create_kefu()
        kefu = Api.login(f"http://{front}", kefu_id, "pw")
        _, kehu = admin.guest("经代理")
        k, c = WS(f"ws://{front}/ws", kefu.token), WS(f"ws://{front}/ws", kehu.token)
        sid = ""
        try:
            k.expect("hello")
            c.expect("hello")
            c.send(type="request_service")
            sid = c.expect("assigned")["session"]["session_id"]
            k.expect("assigned")
            c.send(type="message", client_msg_id="n1", content="经 nginx 你好")
            c.expect("ack")
            assert k.expect("message")["message"]["content"] == "经 nginx 你好"
            k.send(type="message", session_id=sid, client_msg_id="n2", content="收到")
            k.expect("ack")
            assert c.expect("message")["message"]["content"] == "收到"
        finally:
            if sid:
                kefu.call("POST", f"/api/sessions/{sid}/end")
            c.close()
            k.close()
