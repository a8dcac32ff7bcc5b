"""The Redis failover drill at CI size (``scripts/chaos --failover``; docs/reliability.md,
"Redis failover"): two cluster nodes on a primary, a replica held behind and three
sentinels; ``kill -9`` of the primary under traffic.

With ``KEFU_ACK_REPLICAS=1`` nothing acked is lost, nothing stored twice, no seq skipped,
no delivery missed, no customer in two sessions, no agent over capacity; the service is
back within Sentinel's failover time plus a few seconds. The same run with
``KEFU_ACK_REPLICAS=0`` must lose what was acked while the replica was behind: the drill
can fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from kefu.drills.failover import FailoverDrillConfig, run_one

CI = {"messages": 600, "rate": 200.0, "kehu": 15, "kefu": 3, "settle_seconds": 40.0}


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_nothing_acked_is_lost_when_the_primary_dies(tmp_path: Path) -> None:
    res = run_one(FailoverDrillConfig(seed=1, ack_replicas=1, **CI), root=tmp_path)
    print(res.line())
    f = res.figures
    assert res.completed and res.problems == []
    assert f.attempted == f.acked == f.stored == 600 and f.lost == f.duplicated == 0
    assert res.acked_in_hold == 0  # nothing was acked while the replica was behind
    assert 0 < res.failover < 10
    assert 0 < res.service_back <= res.failover + 5.0


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_the_negative_control_shows_a_loss(tmp_path: Path) -> None:
    res = run_one(FailoverDrillConfig(seed=1, ack_replicas=0, expect_loss=True, **CI),
                  root=tmp_path)
    print(res.line())
    assert res.completed and res.ok
    assert res.acked_in_hold > 0 and res.figures.lost > 0  # acked, then gone with the primary
