"""examples/ansible/playbook.yml run by ansible-core against real loopback TLS servers.

``ansible-playbook -i <generated inventory> playbook.yml`` with ``ansible_connection=local``:
every host runs ``python -m runbook check --json`` and the control node gathers the results.
Two good servers pass, a deliberately broken one (``tls-auth-clients no``) fails, and the play
fails after gathering. Every ANSIBLE_* location points into the test's temp folder, so nothing
is read from (or written to) the user's home.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook import inventory, pki, sandbox

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK = ROOT / "examples" / "ansible" / "playbook.yml"
ANSIBLE_PLAYBOOK = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) or shutil.which(
    "ansible-playbook"
)
needs_ansible = pytest.mark.skipif(
    not ANSIBLE_PLAYBOOK, reason="ansible-core not installed (pip install -e .[dev])"
)


def _ansible_env(tmp: Path) -> dict[str, str]:
    (tmp / "ansible.cfg").write_text("[defaults]\nretry_files_enabled = False\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    return env | {
        "ANSIBLE_CONFIG": str(tmp / "ansible.cfg"),
        "ANSIBLE_HOME": str(tmp / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-tmp"),
        "ANSIBLE_REMOTE_TEMP": str(tmp / "ansible-remote-tmp"),
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    }


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, sandbox.Node]]]:
    root = tmp_path_factory.mktemp("ansible")
    pki.create_pki(root / "pki", pki.PkiSpec())
    started: dict[str, sandbox.Node] = {}
    try:
        for name, extra in [("redis-a", {}), ("redis-b", {}), ("redis-broken", {"tls-auth-clients": "no"})]:
            folder = root / name
            conf = sandbox.base_conf(folder, pki.PkiPaths(root / "pki"), sandbox.free_port())
            conf.update(extra)
            started[name] = sandbox.start_node(name, "primary", folder, conf, pki.PkiPaths(root / "pki"))
        yield root, started
    finally:
        for node in started.values():
            sandbox.stop_node(node)


def _inventory(root: Path, servers: dict[str, sandbox.Node]) -> Path:
    pki_root = root / "pki"
    lines = ["[redis]"]
    lines += [f"{name} redis_port={node.port}" for name, node in servers.items()]
    lines += [
        "",
        "[redis:vars]",
        "ansible_connection=local",
        "ansible_host=127.0.0.1",
        "redis_server_name=localhost",
        f"redis_tls_ca={pki_root / 'ca.crt'}",
        f"redis_tls_cert={pki_root / 'redis-client.crt'}",
        f"redis_tls_key={pki_root / 'redis-client.key'}",
        f"redis_pki_dir={pki_root}",
    ]
    path = root / "hosts.ini"
    path.write_text("\n".join(lines) + "\n")
    return path


@needs_ansible
def test_playbook_audits_each_host_and_gathers_the_results(
    servers: tuple[Path, dict[str, sandbox.Node]], tmp_path: Path
) -> None:
    root, nodes = servers
    hosts = _inventory(root, nodes)
    results = tmp_path / "results"
    results.mkdir()
    proc = subprocess.run(
        [ANSIBLE_PLAYBOOK or "", "-i", str(hosts), str(PLAYBOOK), "-e", f"runbook_results_dir={results}"],
        capture_output=True, text=True, env=_ansible_env(tmp_path), timeout=240, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-2000:]  # failed after gathering
    assert "TLS audit failed on redis-broken" in proc.stdout
    summary = json.loads((results / "summary.json").read_text())
    by_host = {h["host"]: h for h in summary["hosts"]}
    assert summary["ok"] is False
    assert by_host["redis-a"]["ok"] is True and by_host["redis-b"]["ok"] is True
    assert by_host["redis-broken"]["ok"] is False and by_host["redis-broken"]["failed"] == [
        "client-cert-required"
    ]
    for name, node in nodes.items():
        per_host = json.loads((results / f"{name}.json").read_text())
        assert per_host["target"] == f"127.0.0.1:{node.port}" and len(per_host["checks"]) == 11


@needs_ansible
def test_the_runbook_reads_the_same_inventory(servers: tuple[Path, dict[str, sandbox.Node]]) -> None:
    """The inventory the playbook uses is one `runbook fleet` reads as it is."""
    root, nodes = servers
    inv = inventory.load(_inventory(root, nodes))
    assert inv.format == "ansible-ini"
    assert [(n.name, n.endpoint.port, n.endpoint.host, n.endpoint.server_name) for n in inv.nodes] == [
        (name, node.port, "127.0.0.1", "localhost") for name, node in nodes.items()
    ]


@needs_ansible
def test_rotate_play_runs_one_host_at_a_time_only_when_tagged(
    servers: tuple[Path, dict[str, sandbox.Node]], tmp_path: Path
) -> None:
    root, nodes = servers
    hosts = _inventory(root, nodes)
    proc = subprocess.run(
        [ANSIBLE_PLAYBOOK or "", "-i", str(hosts), str(PLAYBOOK), "--tags", "rotate", "--limit", "redis-a",
         "-e", "runbook_rotate_within=30"],
        capture_output=True, text=True, env=_ansible_env(tmp_path), timeout=240, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "not-due" in proc.stdout  # 365 days left: `rotate --if-expiring-within 30` does nothing
    assert "Run the live TLS audit" not in proc.stdout  # --tags rotate runs the rotate play only
