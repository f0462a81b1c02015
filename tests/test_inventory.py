"""Inventories: the runbook's YAML and Ansible YAML/INI, good and bad, and --limit patterns.

Pure file parsing (no servers). The Ansible readers are cross-checked against ansible-core's own
``ansible-inventory --list`` when ansible-core is installed (the dev extras bring it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runbook import cli, inventory
from runbook.client import TlsClientFiles
from runbook.errors import RunbookError


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A folder with CA and client files (content is irrelevant to parsing)."""
    for name in ("ca.crt", "client.crt", "client.key", "other-ca.crt"):
        (tmp_path / name).write_text("x\n")
    return tmp_path


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


RUNBOOK_YAML = """\
defaults:
  ca: ca.crt
  cert: client.crt
  key: client.key
  server_name: redis.example
nodes:
  - name: cache-a
    host: 10.0.0.1
    port: 6380
    role: master
    group: cache
  - name: cache-b
    host: 10.0.0.2
    port: "6380"
    role: replica
    group: cache
    pki_dir: pki
  - host: "::1"
    port: 7000
    ca: other-ca.crt
    role: cluster
"""


def test_runbook_yaml(files: Path) -> None:
    inv = inventory.load(_write(files, "fleet.yml", RUNBOOK_YAML))
    assert inv.format == "runbook"
    a, b, c = inv.nodes
    ea = a.endpoint
    assert (a.name, ea.host, ea.port, a.role, a.group, ea.server_name) == (
        "cache-a", "10.0.0.1", 6380, "primary", "cache", "redis.example",
    )  # fmt: skip
    assert ea.files == TlsClientFiles(
        str(files / "ca.crt"), str(files / "client.crt"), str(files / "client.key")
    )
    assert b.endpoint.port == 6380 and b.role == "replica" and b.pki_dir == str(files / "pki")
    assert c.name == "[::1]:7000" and c.target == "[::1]:7000" and c.role == "cluster-primary"
    assert c.group == c.name and c.endpoint.files.ca == str(files / "other-ca.crt")
    assert c.endpoint.address == c.target and c.endpoint.host == "::1"


ANSIBLE_YAML = """\
all:
  vars:
    redis_tls_ca: ca.crt
    redis_port: 6379
  children:
    redis:
      vars:
        redis_port: 6380
        redis_tls_cert: client.crt
        redis_tls_key: client.key
      children:
        cache:
          vars: {redis_group: cache}
          hosts:
            cache1: {ansible_host: 10.0.0.1, redis_role: primary}
            cache2: {ansible_host: 10.0.0.2, redis_role: replica, redis_server_name: cache2.example}
        sessions:
          hosts:
            sess1:
              ansible_host: 10.0.1.1
              redis_port: 6390
    monitoring:
      hosts:
        cache1:
"""

ANSIBLE_INI = """\
# the same fleet in INI
[cache]
cache1 ansible_host=10.0.0.1 redis_role=primary
cache2 ansible_host=10.0.0.2 redis_role=replica redis_server_name=cache2.example

[cache:vars]
redis_group=cache

[sessions]
sess1 ansible_host=10.0.1.1 redis_port=6390

[monitoring]
cache1

[redis:children]
cache
sessions

[redis:vars]
redis_port=6380
redis_tls_cert=client.crt
redis_tls_key=client.key

[all:vars]
redis_tls_ca=ca.crt
redis_port=6379
"""


def _facts(inv: inventory.Inventory) -> dict[str, tuple[object, ...]]:
    return {
        n.name: (
            n.endpoint.host,
            n.endpoint.port,
            n.role,
            n.group,
            n.endpoint.server_name,
            Path(n.endpoint.files.cert or "").name,
        )
        for n in inv.nodes
    }


EXPECTED = {
    "cache1": ("10.0.0.1", 6380, "primary", "cache", "10.0.0.1", "client.crt"),
    "cache2": ("10.0.0.2", 6380, "replica", "cache", "cache2.example", "client.crt"),
    "sess1": ("10.0.1.1", 6390, "standalone", "sess1", "10.0.1.1", "client.crt"),
}


@pytest.mark.parametrize(
    "name,text,fmt", [("hosts.yml", ANSIBLE_YAML, "ansible-yaml"), ("hosts", ANSIBLE_INI, "ansible-ini")]
)
def test_ansible_inventories(files: Path, name: str, text: str, fmt: str) -> None:
    inv = inventory.load(_write(files, name, text))
    assert inv.format == fmt
    assert _facts(inv) == EXPECTED
    cache1 = next(n for n in inv.nodes if n.name == "cache1")
    assert {"all", "redis", "cache", "monitoring"} <= set(cache1.groups)
    assert [n.name for n in inv.limit("monitoring")] == ["cache1"]
    assert [n.name for n in inv.limit("redis,!cache")] == ["sess1"]


ANSIBLE_INVENTORY = shutil.which("ansible-inventory", path=str(Path(sys.executable).parent)) or shutil.which(
    "ansible-inventory"
)


def _ansible_inventory_list(path: Path, tmp: Path) -> dict[str, object]:
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(tmp / "ansible.cfg"),
        "ANSIBLE_HOME": str(tmp / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-tmp"),
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
    }
    (tmp / "ansible.cfg").write_text("[defaults]\n")
    proc = subprocess.run(
        [ANSIBLE_INVENTORY or "ansible-inventory", "-i", str(path), "--list"],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )  # fmt: skip
    data: dict[str, object] = json.loads(proc.stdout)
    return data


@pytest.mark.skipif(not ANSIBLE_INVENTORY, reason="ansible-core not installed (pip install -e .[dev])")
@pytest.mark.parametrize("name,text", [("hosts.yml", ANSIBLE_YAML), ("hosts", ANSIBLE_INI)])
def test_same_vars_as_ansible_core(files: Path, tmp_path: Path, name: str, text: str) -> None:
    """What ansible-core's own inventory parser says each host's redis_* vars are, we read too."""
    path = _write(files, name, text)
    listed = _ansible_inventory_list(path, tmp_path)
    hostvars = listed["_meta"]["hostvars"]  # type: ignore[index]
    ours = inventory.load(path)
    assert sorted(hostvars) == sorted(n.name for n in ours.nodes)
    for node in ours.nodes:
        theirs = hostvars[node.name]
        assert int(theirs["redis_port"]) == node.endpoint.port, node.name
        assert theirs.get("redis_role", "standalone") == node.role
        assert theirs.get("redis_group", node.name) == node.group
        assert theirs.get("ansible_host") == node.endpoint.host
        assert Path(theirs["redis_tls_cert"]).name == Path(node.endpoint.files.cert or "").name


@pytest.mark.parametrize(
    "text,message",
    [
        ("nodes:\n  - {host: a, ca: ca.crt}\n", "host a: port is missing"),
        ("nodes:\n  - {host: a, port: sixty, ca: ca.crt}\n", "host a:sixty: port 'sixty' is not an integer"),
        ("nodes:\n  - {host: a, port: 70000, ca: ca.crt}\n", "port 70000 is out of range"),
        ("nodes:\n  - {host: a, port: 1, ca: ca.crt, role: boss}\n", "role 'boss' is unknown"),
        ("nodes:\n  - {host: a, port: 1}\n", "host a:1: ca is missing"),
        ("nodes:\n  - {host: a, port: 1, ca: nope.crt}\n", "ca file"),
        ("nodes:\n  - {host: a, port: 1, ca: ca.crt, cert: client.crt}\n", "key is missing"),
        (
            "nodes:\n  - {name: x, host: a, port: 1, ca: ca.crt}\n  - {name: y, host: a, port: 1, ca: ca.crt}\n",
            "hosts x and y are both a:1: duplicate host:port",
        ),
        (
            "nodes:\n  - {name: x, host: a, port: 1, ca: ca.crt}\n  - {name: x, host: b, port: 1, ca: ca.crt}\n",
            "host x is listed twice",
        ),
        ("nodes:\n  - {host: a, prot: 1, ca: ca.crt}\n", "unknown key 'prot'"),
        ("nodes:\n  - {port: 1, ca: ca.crt}\n", "missing host"),
        ("nodes: [\n", "not valid YAML (line"),
        ("nodes: []\n", "lists no host"),
        ("all:\n  hosts:\n    h1: {redis_tls_ca: ca.crt}\n", "host h1: redis_port is missing"),
        (
            "all:\n  hosts:\n    h1: {redis_port: '{{ port }}', redis_tls_ca: ca.crt}\n",
            "redis_port is a Jinja template",
        ),
        (
            "all:\n  hosts:\n    h1: {redis_port: 1, redis_tls_ca: ca.crt, redis_role: boss}\n",
            "host h1: redis_role 'boss'",
        ),
        ("[r]\nh1 redis_port=x redis_tls_ca=ca.crt\n", "host h1: redis_port 'x' is not an integer"),
        ("[r]\nh1 redis_tls_ca=ca.crt\n", "host h1: redis_port is missing"),
        ("[r:kids]\nh1\n", "unknown section [r:kids]"),
    ],
)
def test_bad_inventory_is_one_line_naming_host_and_field(files: Path, text: str, message: str) -> None:
    path = _write(files, "inv.yml" if not text.startswith("[") else "inv.ini", text)
    with pytest.raises(RunbookError) as exc:
        inventory.load(path)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_a_file_that_exists_but_cannot_be_read_is_not_an_inventory_error(files: Path) -> None:
    """Unreadable client files are a per-node status at run time (runbook.fleet), not exit 2."""
    (files / "dangling.key").symlink_to(files / "gone.key")
    text = "nodes:\n  - {host: a, port: 1, ca: ca.crt, cert: client.crt, key: dangling.key}\n"
    node = inventory.load(_write(files, "inv.yml", text)).nodes[0]
    assert (node.endpoint.files.key or "").endswith("dangling.key")


def test_cli_bad_inventory_exits_2_with_one_line(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(files, "inv.yml", "nodes:\n  - {host: a, port: x, ca: ca.crt}\n")
    assert cli.main(["fleet", "audit", "--inventory", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "host a:x: port 'x' is not an integer" in err
    assert cli.main(["fleet", "audit", "--inventory", str(files / "missing.yml")]) == 2
    assert "not found" in capsys.readouterr().err


# --------------------------------------------------------------------------- --limit


def _nodes(files: Path) -> list[inventory.FleetNode]:
    text = (
        "nodes:\n"
        "  - {name: web-1, host: h1, port: 1, ca: ca.crt, group: web}\n"
        "  - {name: web-2, host: h2, port: 1, ca: ca.crt, group: web}\n"
        "  - {name: db-1, host: h3, port: 1, ca: ca.crt, group: db}\n"
        "  - {name: db-2, host: h4, port: 2, ca: ca.crt, group: db}\n"
    )
    return inventory.load(_write(files, "inv.yml", text)).nodes


@pytest.mark.parametrize(
    "pattern,expected",
    [
        (None, ["web-1", "web-2", "db-1", "db-2"]),
        ("", ["web-1", "web-2", "db-1", "db-2"]),
        ("all", ["web-1", "web-2", "db-1", "db-2"]),
        ("web-1", ["web-1"]),
        ("web-*", ["web-1", "web-2"]),
        ("db", ["db-1", "db-2"]),
        ("db,web-2", ["web-2", "db-1", "db-2"]),
        ("all,!db", ["web-1", "web-2"]),
        ("!db", ["web-1", "web-2"]),
        ("*-1,&db", ["db-1"]),
        ("~^db-[2-9]$", ["db-2"]),
        ("h4:2", ["db-2"]),
    ],
)
def test_limit_patterns(files: Path, pattern: str | None, expected: list[str]) -> None:
    assert [n.name for n in inventory.select(_nodes(files), pattern)] == expected


@pytest.mark.parametrize(
    "pattern,message",
    [
        ("cache", "--limit 'cache' matches no host"),
        ("web,!web", "leaves no host"),
        ("~[", "not a valid regular"),
    ],
)
def test_bad_limit(files: Path, pattern: str, message: str) -> None:
    with pytest.raises(RunbookError, match=message.replace("[", r"\[")):
        inventory.select(_nodes(files), pattern)


@pytest.mark.skipif(not ANSIBLE_INVENTORY, reason="ansible-core not installed (pip install -e .[dev])")
def test_reads_what_ansible_inventory_list_yaml_writes(files: Path, tmp_path: Path) -> None:
    """`ansible-inventory --list --yaml` resolves group_vars/host_vars folders: its output reads as it is."""
    src = _write(files, "hosts", ANSIBLE_INI.replace("redis_port=6390", ""))
    (files / "host_vars").mkdir()
    (files / "host_vars" / "sess1.yml").write_text("redis_port: 6390\n")  # only in a host_vars folder
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    env = {**os.environ, "ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg"), "ANSIBLE_HOME": str(tmp_path / "h"),
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / "t")}  # fmt: skip
    flat = subprocess.run(
        [ANSIBLE_INVENTORY or "", "-i", str(src), "--list", "--yaml"],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert _facts(inventory.load(_write(files, "flat.yml", flat))) == EXPECTED
