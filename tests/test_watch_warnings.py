"""The watcher never accepts a warning silently: a renewed pair whose checks warn (here a `step`
corpus leaf renewed without its intermediate, which Redis completes from its tls-ca-cert-file) is reloaded, and each warning is
one event line, in the JSON and in the Prometheus counter. Real redis-server on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

import corpus
from runbook import rotation, sandbox, watch

pytestmark = pytest.mark.integration


def test_a_warning_level_renewal_is_reloaded_and_reported(tmp_path: Path) -> None:
    dep = corpus.build("step", tmp_path / "step")
    bundle = tmp_path / "server-ca.crt"  # the server trusts root + intermediate, the clients the root
    bundle.write_bytes(dep.ca.read_bytes() + (dep.root / "certs" / "intermediate_ca.crt").read_bytes())
    node = corpus.start(dep, tmp_path / "node", tls_ca_cert_file=str(bundle))
    try:
        renewed = corpus.renew_step_leaf(dep, bundle=False)  # the leaf alone: Redis completes the chain
        seen: list[watch.WatchEvent] = []
        prom = tmp_path / "watch.prom"
        report = watch.watch_once(
            [watch.WatchTarget(dep.endpoint(node.port))], state_dir=tmp_path / "state", settle=0.0,
            prometheus=prom, on_event=seen.append,
        )  # fmt: skip
        assert report.ok and report.nodes[0].reloads["reloaded"] == 1, "\n".join(
            e.line() for e in report.events
        )
        assert report.nodes[0].served_serial == rotation.serial_of(renewed)
        warnings = [e for e in report.events if e.kind == "warning"]
        assert warnings and all(e.status == "warn" for e in warnings), report.events
        assert "leaf alone" in warnings[0].detail and "append the intermediate" in warnings[0].fix
        assert warnings[0] in seen and "\n" not in warnings[0].line()
        kinds = [e.kind for e in report.events]
        assert kinds.index("warning") < kinds.index("reloaded")  # reported before the reload it precedes
        assert report.to_dict()["nodes"][0]["warnings"] == len(warnings)
        line = next(
            x for x in prom.read_text().splitlines() if x.startswith("redis_tls_watch_warnings_total")
        )
        assert float(line.rsplit(" ", 1)[1]) == len(warnings)
    finally:
        sandbox.stop_node(node)
