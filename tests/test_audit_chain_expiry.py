"""The audit judges every certificate of the served chain (leaf and intermediates) against its own
lifetime, as the watcher's chain gauge covers it: step deployments (24 h leaves under an intermediate)
served by a real redis-server, with a long-lived and an aging intermediate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

import corpus
from runbook import checks, pki, sandbox
from runbook.results import CheckResult

pytestmark = pytest.mark.integration
DAY = dt.timedelta(days=1)


def _expiry_of(dep: corpus.Deployment, tmp_path: Path) -> Iterator[CheckResult]:
    node = corpus.start(dep, tmp_path / "node")
    try:
        report = checks.audit(dep.endpoint(node.port), scan_ciphers=False)
        yield next(c for c in report if c.id == "cert-expiry")
    finally:
        sandbox.stop_node(node)


def test_a_healthy_step_chain_shows_the_leaf_in_hours_and_the_intermediate(tmp_path: Path) -> None:
    dep = corpus.build("step", tmp_path / "step")
    (found,) = _expiry_of(dep, tmp_path)
    assert found.status == "pass", found
    assert "server 23 h left of 24 h" in found.detail
    assert "intermediate Redis Intermediate CA 3649 days left" in found.detail, found.detail


@pytest.mark.parametrize(
    ("left", "status", "text", "fix"),
    [
        (5 * DAY + DAY / 24, "warn", "intermediate Redis Intermediate CA expires in 5 days", "soon"),
        (DAY / 2, "fail", "intermediate Redis Intermediate CA 11 h left of 720 h: renewal is overdue", "now"),
    ],
)
def test_an_aging_intermediate_is_judged_against_its_own_lifetime(
    left: dt.timedelta, status: str, text: str, fix: str, tmp_path: Path
) -> None:
    """30-day intermediate: 5 days left warns (under a third), half a day left is overdue; the
    24 h leaf alone would pass, so the verdict is the intermediate's."""
    dep = corpus.step_with_intermediate(tmp_path / "step", 30 * DAY, left)
    assert pki.chain_expiry(pki.load_certs(dep.cert))[0].status == "pass"  # the leaf alone is fine
    (found,) = _expiry_of(dep, tmp_path)
    assert found.status == status, found
    assert text in found.detail, found.detail
    assert fix in found.fix and "Redis Intermediate CA" in found.fix and "server" not in found.fix, found.fix
