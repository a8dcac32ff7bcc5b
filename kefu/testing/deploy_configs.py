"""The shipped ``deploy/`` files, rendered for a test or a drill on this machine.

What the docs ship is what is tested: a render changes only where things are — the
proxies' listening port and their list of nodes, and for nginx the paths a non-packaged
run needs (pid, logs, temp dirs) — never a timeout, a header or a health check. Each
render checks that the lines it replaces are there, so a reworded deploy file fails
loudly instead of being tested half-rendered.
"""

from __future__ import annotations

import re
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
HAPROXY_CFG = DEPLOY / "haproxy.cfg"
NGINX_CONF = DEPLOY / "nginx.conf"
NODE_UNIT = DEPLOY / "kefu@.service"
REDIS_UNIT = DEPLOY / "kefu-redis.service"

_HAPROXY_SERVER = re.compile(r"^    server \S+ \S+$", re.M)


def _sub(pattern: str, repl: str, text: str, what: str) -> str:
    out, n = re.subn(pattern, repl, text, flags=re.M)
    if n == 0:
        raise ValueError(f"deploy file: no {what} to render")
    return out


def haproxy(port: int, nodes: list[tuple[str, int]]) -> str:
    """``deploy/haproxy.cfg`` listening on ``127.0.0.1:port`` in front of ``nodes``
    (name, port on 127.0.0.1)."""
    text = HAPROXY_CFG.read_text()
    servers = "\n".join(f"    server {name} 127.0.0.1:{p}" for name, p in nodes)
    text = _sub(r"^    bind \S+$", f"    bind 127.0.0.1:{port}", text, "bind line")
    found = list(_HAPROXY_SERVER.finditer(text))
    if not found:
        raise ValueError("deploy file: no server lines to render")
    return text[:found[0].start()] + servers + text[found[-1].end():]


def nginx(port: int, nodes: list[int], root: Path) -> str:
    """``deploy/nginx.conf`` listening on ``127.0.0.1:port`` in front of the nodes' ports,
    with its pid, logs and temp files under ``root`` (no ``user``: the caller's)."""
    text = NGINX_CONF.read_text()
    text = _sub(r"^user .*;\n", "", text, "user line")
    text = _sub(r"^pid .*;$", f"pid {root}/nginx.pid;", text, "pid line")
    text = _sub(r"^error_log \S+", f"error_log {root}/error.log", text, "error_log line")
    text = _sub(r"^    access_log \S+;", f"    access_log {root}/access.log;\n"
                + "".join(f"    {kind}_temp_path {root}/{kind};\n"
                          for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")),
                text, "access_log line")
    line = re.search(r"^        server 127\.0\.0\.1:\d+(?P<params>[^;]*);$", text, re.M)
    if line is None:
        raise ValueError("deploy file: no upstream server line to render")
    servers = "\n".join(f"        server 127.0.0.1:{p}{line['params']};" for p in nodes)
    text = text[:line.start()] + servers + text[line.end():]
    return _sub(r"^        listen 80;$", f"        listen 127.0.0.1:{port};", text,
                "listen line")


def unit(path: Path, kefu_bin: str) -> str:
    """A systemd unit with the ``kefu`` console script at ``kefu_bin`` (for verify)."""
    return path.read_text().replace("/opt/kefu/venv/bin/kefu", kefu_bin)
