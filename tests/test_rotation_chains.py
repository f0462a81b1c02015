"""Intermediate chains on rotation: the chain as served, judged by the anchors the clients really have.

Real redis-server processes on loopback; the deployment is root -> intermediate -> leaf with the
server's tls-ca-cert-file holding root + intermediate, and every client trusting the root only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from corpus import ChainSite
from corpus import build_chain as build
from corpus import start_chain as start
from runbook import rotation, sandbox
from runbook.client import TlsClientFiles, redis_client

pytestmark = pytest.mark.integration


def _ping(port: int, files: TlsClientFiles) -> bool:
    client = redis_client("127.0.0.1", port, files, server_hostname="localhost", socket_timeout=3)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _digest(*paths: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[ChainSite, sandbox.Node]]:
    """The server trusts root + intermediate (its tls-ca-cert-file), serves leaf + intermediate."""
    s = build(tmp_path / "site")
    node = start(s, tmp_path / "node")
    yield s, node
    sandbox.stop_node(node)


@pytest.fixture
def root_site(tmp_path: Path) -> Iterator[tuple[ChainSite, sandbox.Node]]:
    """The server trusts the root only (its clients present their intermediate), serves leaf + intermediate."""
    s = build(tmp_path / "site")
    node = start(s, tmp_path / "node", ca=s.root_ca)
    yield s, node
    sandbox.stop_node(node)


def test_leaf_only_renewal_is_refused_because_root_only_clients_could_not_verify_it(
    root_site: tuple[ChainSite, sandbox.Node], tmp_path: Path
) -> None:
    """The outage once reported as "rotated" (preflight and verification used a CA file holding the
    intermediate): nothing on the server can complete a leaf-only chain, so every client trusting
    only the root would fail. Refused with the reason, before anything is touched."""
    s, node = root_site
    assert _ping(node.port, s.files)
    new_cert, new_key = s.leaf(with_intermediate=False, out=tmp_path / "renewal")
    before = _digest(s.cert, s.key)
    report = rotation.rotate(
        "server",
        None,
        [("127.0.0.1", node.port)],
        server_hostname="localhost",
        new_cert=new_cert,
        new_key=new_key,
        client_files=s.files,
    )
    assert report.status == "refused", report.to_dict()
    chain = next(c for c in report.steps if c.id.endswith(":chain"))
    assert chain.status == "fail"
    assert "intermediate" in chain.detail and s.root_ca.name in chain.detail, chain.detail
    assert "intermediate" in chain.fix
    assert _digest(s.cert, s.key) == before
    assert _ping(node.port, s.files), "a client trusting only the root must still connect"


def test_leaf_only_renewal_completed_by_the_servers_bundle_is_a_warning(
    site: tuple[ChainSite, sandbox.Node], tmp_path: Path
) -> None:
    """With root + intermediate in its tls-ca-cert-file, Redis (OpenSSL) sends the intermediate
    with a leaf-only file: clients verify, so it rotates, with a warning and its fix."""
    s, node = site
    new_cert, new_key = s.leaf(with_intermediate=False, out=tmp_path / "renewal")
    report = rotation.rotate(
        "server",
        None,
        [("127.0.0.1", node.port)],
        server_hostname="localhost",
        new_cert=new_cert,
        new_key=new_key,
        client_files=s.files,
    )
    assert report.status == "rotated", report.to_dict()
    chain = next(c for c in report.steps if c.id.endswith(":chain"))
    assert chain.status == "warn" and "tls-ca-cert-file" in chain.detail and "intermediate" in chain.fix
    assert _ping(node.port, s.files)


def test_step_style_renewal_with_its_intermediate_is_served_as_is(
    root_site: tuple[ChainSite, sandbox.Node], tmp_path: Path
) -> None:
    """leaf + intermediate in one file (``step ca renew``) is accepted (it was refused with
    "candidates exhausted" when judged against the root alone) and installed byte for byte; a client
    trusting only the root verifies it after the reload."""
    s, node = root_site
    new_cert, new_key = s.leaf(with_intermediate=True, out=tmp_path / "renewal")
    report = rotation.rotate(
        "server",
        None,
        [("127.0.0.1", node.port)],
        server_hostname="localhost",
        new_cert=new_cert,
        new_key=new_key,
        client_files=s.files,
    )
    assert report.status == "rotated", report.to_dict()
    assert s.cert.read_bytes() == new_cert.read_bytes()
    assert _ping(node.port, s.files)


def test_a_ca_strict_clients_refuse_is_a_warning_with_the_fix_not_a_blocker(tmp_path: Path) -> None:
    """A guide-made CA (no keyUsage): Redis/OpenSSL clients verify its leaves, strict ones refuse.
    The preflight says so (warn, with the re-sign fix) and does not fail; a real in-memory handshake
    in compatible mode is the judge."""
    from guide_certs import guide_style_ca
    from runbook import pki
    from runbook.rotation import ClientTrust, preflight_leaf

    ca = guide_style_ca()
    ca_file = tmp_path / "guide-ca.crt"
    ca_file.write_bytes(ca.cert_pem())
    leaf = pki.make_leaf(ca, "redis", purpose="server", hostnames=["localhost"])
    checks = preflight_leaf(
        "", leaf.cert, leaf.key, purpose="server", client_trust=ClientTrust.of(ca_file),
        server_trust=[ca.cert], names=["localhost"],
    )  # fmt: skip
    chain = next(c for c in checks if c.id == "chain")
    assert chain.status == "warn", chain
    assert "strict clients" in chain.detail and "keyUsage" in chain.fix
    assert all(c.status != "fail" for c in checks), checks
    other = guide_style_ca()  # a CA the clients do not trust at all: refused
    stranger = pki.make_leaf(other, "redis", purpose="server", hostnames=["localhost"])
    checks = preflight_leaf(
        "", stranger.cert, stranger.key, purpose="server", client_trust=ClientTrust.of(ca_file),
        server_trust=[ca.cert], names=["localhost"],
    )  # fmt: skip
    assert next(c for c in checks if c.id == "chain").status == "fail"
