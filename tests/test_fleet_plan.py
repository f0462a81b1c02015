"""The rolling order (runbook.fleet.plan): pure rules, no servers."""

from __future__ import annotations

import itertools

import pytest

from runbook.client import Endpoint, TlsClientFiles
from runbook.fleet import plan
from runbook.inventory import FleetNode


def _node(name: str, group: str, role: str = "standalone") -> FleetNode:
    return FleetNode(Endpoint("127.0.0.1", 1, "localhost", TlsClientFiles("ca.crt"), name), role, group)


FLEET = [
    _node("cache-primary", "cache", "primary"),
    _node("cache-replica-1", "cache", "replica"),
    _node("solo", "solo"),
    _node("cache-replica-2", "cache", "replica"),
    _node("shard1-primary", "shard-1", "cluster-primary"),
    _node("shard1-replica", "shard-1", "cluster-replica"),
]


def test_replicas_before_their_primary_groups_in_inventory_order() -> None:
    assert [n.name for n in plan.rolling_order(FLEET)] == [
        "cache-replica-1", "cache-replica-2", "cache-primary", "solo", "shard1-replica", "shard1-primary",
    ]  # fmt: skip


def _units(shares: dict[str, str] | None = None, lock: str = "pki") -> list[plan.Unit]:
    ordered = plan.rolling_order(FLEET)
    return plan.units(ordered, shares or {}, {n.name: lock for n in ordered})


def test_one_unit_per_node_unless_they_share_files() -> None:
    assert [u.nodes for u in _units()] == [(n.name,) for n in plan.rolling_order(FLEET)]
    shared = _units({"cache-primary": "f", "cache-replica-1": "f", "cache-replica-2": "f"})
    assert shared[0].nodes == ("cache-replica-1", "cache-replica-2", "cache-primary")
    assert shared[0].groups == frozenset({"cache"}) and len(shared) == 4


def _check_rules(waves: list[list[plan.Unit]], parallel: int, order: list[plan.Unit]) -> None:
    for wave in waves:
        assert 1 <= len(wave) <= parallel
        for a, b in itertools.combinations(wave, 2):
            assert not a.groups & b.groups, "two units of one group in one wave"
            assert a.lock != b.lock, "two units backing up into one PKI folder at once"
    position = {u: i for i, wave in enumerate(waves) for u in wave}
    assert sorted(position, key=order.index) == order, "every unit scheduled once"
    for a, b in itertools.combinations(order, 2):  # a before b in the rolling order
        if a.conflicts(b):
            assert position[a] < position[b], f"{b.nodes} must come after {a.nodes}"


@pytest.mark.parametrize("parallel", [1, 2, 3, 8])
def test_waves_respect_groups_locks_and_the_bound(parallel: int) -> None:
    ordered = plan.rolling_order(FLEET)
    locks = {n.name: f"pki-{n.group}" for n in ordered}  # one PKI folder per group
    found = plan.units(ordered, {}, locks)
    waves = plan.waves(found, parallel)
    _check_rules(waves, parallel, found)
    if parallel == 1:
        assert [w[0].nodes for w in waves] == [u.nodes for u in found]
    else:  # groups run side by side: cache's three nodes need three waves, the others fit beside them
        assert len(waves) == 3
        assert [u.nodes[0] for u in waves[0]][:2] == ["cache-replica-1", "solo"]


def test_one_shared_pki_folder_means_one_unit_at_a_time() -> None:
    found = _units(lock="the-one-ca")
    assert [len(w) for w in plan.waves(found, 8)] == [1] * len(found)


def test_parallel_must_be_positive() -> None:
    with pytest.raises(ValueError):
        plan.waves(_units(), 0)


def test_cli_default_parallel_is_the_executor_default() -> None:
    from runbook import cli
    from runbook.fleet import run

    args = cli.build_parser().parse_args(["fleet", "audit", "--inventory", "x"])
    assert args.parallel == run.DEFAULT_PARALLEL
    assert cli.build_parser().parse_args(["fleet", "rotate", "--inventory", "x"]).parallel == 1
