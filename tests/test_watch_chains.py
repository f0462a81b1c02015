"""The watcher on a root -> intermediate deployment: a renewal is judged as served (leaf + its
intermediates) against the clients' --ca, and the chain's earliest expiry is exported. Real redis-server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from corpus import ChainSite
from corpus import build_chain as build
from corpus import start_chain as start
from runbook import pki, rotation, sandbox
from runbook.client import Endpoint
from runbook.watch import WatchTarget, watch_once

pytestmark = pytest.mark.integration


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[tuple[ChainSite, sandbox.Node]]:
    s = build(tmp_path / "site")
    node = start(s, tmp_path / "node", ca=s.root_ca)  # nothing on the server completes a chain
    yield s, node
    sandbox.stop_node(node)


def _put(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def _serial(s: ChainSite, port: int) -> str:
    return rotation.serial_of(rotation.served_certificate("127.0.0.1", port, s.files, "localhost"))


def test_step_renewal_is_reloaded_and_leaf_only_is_refused(
    chain: tuple[ChainSite, sandbox.Node], tmp_path: Path
) -> None:
    s, node = chain
    target = WatchTarget(Endpoint("127.0.0.1", node.port, "localhost", s.files))
    prom, state = tmp_path / "watch.prom", tmp_path / "state"

    def once() -> dict[str, object]:
        report = watch_once([target], state_dir=state, prometheus=prom, settle=0.0)
        return report.to_dict()["nodes"][0]  # type: ignore[no-any-return]

    assert once()["state"] == "ok"
    # step ca renew: leaf + intermediate in one file; the leaf outlives the intermediate here
    cert, key = s.leaf(with_intermediate=True, out=tmp_path / "step", days=4000)
    _put(key, s.key)
    _put(cert, s.cert)
    node_status = once()
    new = rotation.serial_of(pki.load_cert(cert))
    assert node_status["last_result"] == "reloaded", node_status
    assert node_status["served_serial"] == new == _serial(s, node.port)
    samples = {
        s.name: s.value for fam in text_string_to_metric_families(prom.read_text()) for s in fam.samples
    }
    inter_end = s.inter.cert.not_valid_after_utc.timestamp()
    assert samples["redis_tls_watch_chain_expiry_timestamp_seconds"] == inter_end
    assert samples["redis_tls_watch_certificate_expiry_timestamp_seconds"] > inter_end
    # a leaf-only renewal: clients trusting only the root could not verify it; never loaded
    cert, key = s.leaf(with_intermediate=False, out=tmp_path / "leaf")
    _put(key, s.key)
    _put(cert, s.cert)
    node_status = once()
    assert node_status["state"] == "refused", node_status
    assert "chain" in str(node_status["detail"]) and "intermediate" in str(node_status["fix"])
    assert _serial(s, node.port) == new
