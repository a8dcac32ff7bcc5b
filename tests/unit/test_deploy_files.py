"""The shipped deploy/ files are valid for the tools that read them, and a render (for the
cluster tests and drills, tests/e2e/test_operator_comfort.py) changes nothing but where
things are."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kefu.testing import deploy_configs
from kefu.testing.cluster import HAProxy, find_haproxy
from kefu.testing.processes import KEFU_BIN


def test_the_cluster_lab_runs_the_shipped_haproxy_cfg(tmp_path: Path) -> None:
    nodes = [("n0", 9101), ("n1", 9102)]
    proxy = HAProxy(tmp_path, nodes, port=9100)
    rendered = proxy.config.read_text()
    assert rendered == deploy_configs.haproxy(9100, nodes)
    shipped = deploy_configs.HAPROXY_CFG.read_text().splitlines()
    changed = set(rendered.splitlines()) ^ set(shipped)
    assert changed == {"    bind 127.0.0.1:8080", "    bind 127.0.0.1:9100",
                       "    server n1 127.0.0.1:8081", "    server n2 127.0.0.1:8082",
                       "    server n3 127.0.0.1:8083", "    server n0 127.0.0.1:9101",
                       "    server n1 127.0.0.1:9102"}
    for line in ("option httpchk GET /api/system/health", "timeout tunnel 1h",
                 "default-server check inter 500ms fall 1 rise 2", "option redispatch"):
        assert f"    {line}" in [x.split("#")[0].rstrip() for x in rendered.splitlines()]
    binary = find_haproxy()
    if binary is None:
        pytest.skip("haproxy is not installed (scripts/test installs it)")
    checked = subprocess.run([binary, "-c", "-f", str(proxy.config)], capture_output=True,
                             text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_render_refuses_a_file_without_its_lines(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "haproxy.cfg"
    broken.write_text(deploy_configs.HAPROXY_CFG.read_text().replace("    server ", "  # "))
    monkeypatch.setattr(deploy_configs, "HAPROXY_CFG", broken)
    with pytest.raises(ValueError, match="server lines"):
        deploy_configs.haproxy(9100, [("n0", 9101)])


def test_the_shipped_nginx_conf_passes_nginx_t(tmp_path: Path) -> None:
    text = deploy_configs.NGINX_CONF.read_text()
    for line in ("proxy_set_header Upgrade $http_upgrade;", "proxy_http_version 1.1;",
                 "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
                 "proxy_read_timeout 75s;", "client_max_body_size 11m;"):
        assert line in text
    assert 11 * 1024 * 1024 >= 10 * 1024 * 1024 + 64 * 1024  # upload limit + form overhead
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        pytest.skip("nginx is not installed (scripts/test installs it)")
    conf = tmp_path / "nginx.conf"
    conf.write_text(deploy_configs.nginx(9200, [9201, 9202], tmp_path))
    checked = subprocess.run([binary, "-t", "-c", str(conf)], capture_output=True, text=True,
                             timeout=30)
    assert checked.returncode == 0, checked.stderr


def test_the_systemd_units_verify(tmp_path: Path) -> None:
    binary = shutil.which("systemd-analyze")
    if binary is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd package)")
    units = [tmp_path / "kefu@test.service", tmp_path / "kefu-redis.service"]
    units[0].write_text(deploy_configs.unit(deploy_configs.NODE_UNIT, KEFU_BIN))
    redis_server = shutil.which("redis-server") or "/usr/bin/redis-server"
    units[1].write_text(deploy_configs.REDIS_UNIT.read_text().replace(
        "/usr/bin/redis-server", redis_server))
    checked = subprocess.run([binary, "verify", *map(str, units)], capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0 and not checked.stderr.strip(), checked.stderr
    node = units[0].read_text()
    for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "Restart=on-failure",
                 "ReadWritePaths=/var/lib/kefu/%i", "LimitNOFILE=65536",
                 "EnvironmentFile=/etc/kefu/%i.env", "KillMode=mixed"):
        assert line in node.splitlines()
