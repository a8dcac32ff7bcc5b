"""Data at rest is private (issue 10, item 9): ``KEFU_DATA_DIR`` and everything the server
and its embedded Redis write under it (AOF, log, pid, credentials, backups) are owner-only,
and so is what an older version left world-readable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.helpers import Api, ServerProcess


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_directory_is_owner_only(tmp_path: Path,
                                          spawned: list[ServerProcess]) -> None:
    data = tmp_path / "data"
    (data / "redis").mkdir(parents=True)
    os.chmod(data, 0o755)
    os.chmod(data / "redis", 0o755)
    old = data / "redis" / "appendonly.aof.old"  # as an older version left it
    old.write_bytes(b"")
    os.chmod(old, 0o644)
    srv = ServerProcess(data).start()
    spawned.append(srv)
    Api.login(srv.base, "admin", "admin-pass").ok("POST", "/api/system/backup")
    assert mode(data) == 0o700
    written = [p for p in data.rglob("*") if p.name != "server.log"]  # the test's own log
    files = [p for p in written if p.is_file() and not p.is_symlink()]
    dirs = [p for p in written if p.is_dir()]
    names = {p.name for p in files}
    assert {"admin-credentials", "redis.log", "redis.pid"} <= names
    assert any(n.endswith(".aof") for n in names) and any(n.endswith(".ndjson.gz") for n in names)
    assert {str(p): oct(mode(p)) for p in files if mode(p) & 0o077} == {}
    assert {str(p): oct(mode(p)) for p in dirs if mode(p) & 0o077} == {}
