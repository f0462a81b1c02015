"""adopt's Node (ioredis) view, its cluster view and a missing intermediate hidden by the operator's CA
bundle: real redis-server processes serving tests/corpus.py deployments, and Node's own
``tls.checkServerIdentity`` as the oracle for the name rules where node is installed."""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

import corpus
from runbook import adopt, pki, sandbox
from runbook.adopt.assessment import ClientView, Finding, node_identity_error, unexplained_refusals
from runbook.client import TlsClientFiles, redis_client

pytestmark = pytest.mark.integration


def _leaf(cn: str | None, dns: tuple[str, ...] = (), ips: tuple[str, ...] = ()) -> x509.Certificate:
    ca = pki.make_ca()
    if dns or ips:
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        issued = pki.guide_leaf(ca, cn or "x", sans=sans)
    else:
        issued = pki.cn_only_leaf(ca, cn or "x")
    return issued.cert


CASES: list[tuple[str, x509.Certificate, str, bool]] = []


def _cases() -> list[tuple[str, x509.Certificate, str, bool]]:
    """(label, certificate, host, Node accepts) from Node's rules in lib/tls.js."""
    if not CASES:
        cn_only = _leaf("redis.internal")
        ip_only = _leaf("redis.internal", ips=("127.0.0.1",))
        dns = _leaf("other", dns=("localhost", "*.cache.example.com"))
        CASES.extend(
            [
                ("cn-only, dns host: CN fallback", cn_only, "redis.internal", True),
                ("cn-only, trailing dot", cn_only, "redis.internal.", True),
                ("cn-only, ip host: never the CN", _leaf("127.0.0.1"), "127.0.0.1", False),
                ("ip SAN only, dns host: CN fallback", ip_only, "redis.internal", True),
                ("ip SAN, ip host", ip_only, "127.0.0.1", True),
                ("ip SAN, other ip", ip_only, "::1", False),
                ("dns SANs: CN ignored", dns, "other", False),
                ("dns SAN", dns, "localhost", True),
                ("wildcard SAN", dns, "a.cache.example.com", True),
                ("wildcard, two labels deep", dns, "a.b.cache.example.com", False),
            ]
        )
    return CASES


def test_node_name_rules() -> None:
    for label, cert, host, accepts in _cases():
        assert (node_identity_error(cert, host) is None) is accepts, label


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_name_rules_agree_with_node_itself() -> None:
    """Each case through Node's own tls.checkServerIdentity (the oracle), in one node process."""
    cases = [{"host": h, "pem": c.public_bytes(Encoding.PEM).decode()} for _, c, h, _ in _cases()]
    script = (
        "const tls=require('tls'),{X509Certificate}=require('crypto');"
        "const cases=JSON.parse(require('fs').readFileSync(0,'utf8'));"
        "console.log(JSON.stringify(cases.map(c=>tls.checkServerIdentity(c.host,"
        "new X509Certificate(c.pem).toLegacyObject())===undefined)));"
    )
    done = subprocess.run(
        ["node", "-e", script],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    node_says = json.loads(done.stdout)
    ours = [node_identity_error(c, h) is None for _, c, h, _ in _cases()]
    assert ours == node_says, list(zip([c[0] for c in _cases()], ours, node_says, strict=True))


def test_node_view_on_the_corpus(tmp_path: Path) -> None:
    """gen-test-certs (name only in the CN): Node falls back to the CN like OpenSSL, strict clients do not."""
    dep = corpus.build("gen-test-certs", tmp_path / "gtc")
    node = corpus.start(dep, tmp_path / "node")
    try:
        result = adopt.assess([dep.endpoint(node.port)])
        views = {v.client: v for v in result.views}
        assert views["node"].ok and views["node"].detail == "chain and name verified", views["node"]
        assert not views["strict"].ok
        wrong = adopt.assess([dep.endpoint(node.port).__class__(
            "127.0.0.1", node.port, "127.0.0.1", dep.files)])  # fmt: skip
        node_view = next(v for v in wrong.views if v.client == "node")
        assert not node_view.ok and "IP: 127.0.0.1 is not in the cert's list" in node_view.detail
    finally:
        sandbox.stop_node(node)


def test_a_missing_intermediate_hidden_by_the_operators_ca_bundle(tmp_path: Path) -> None:
    """--ca holds root + intermediate (a bundle made to get the admin connection through), the server trusts
    the root (so it cannot complete its own chain) and sends its leaf alone: every admin view connects, yet
    clients trusting only the root fail. adopt names the intermediate, and the fix clears it."""
    dep = corpus.build("step", tmp_path / "step")
    inter = (dep.root / "certs" / "intermediate_ca.crt").read_bytes()
    bundle = tmp_path / "bundle.crt"
    bundle.write_bytes(dep.ca.read_bytes() + inter)
    corpus.renew_step_leaf(dep, bundle=False)  # the server now sends its leaf alone
    node = corpus.start(dep, tmp_path / "node")
    files = TlsClientFiles(str(bundle), str(dep.client_cert), str(dep.client_key))
    endpoint = dep.endpoint(node.port).with_files(files)
    assert not adopt.assess([dep.endpoint(node.port)]).ok  # root-only trust: refused, as clients are
    try:
        result = adopt.assess([endpoint])
        assert all(v.ok for v in result.views if v.client != "replica"), result.views
        assert result.finding_ids == {"missing-intermediate"}, result.findings
        found = result.findings[0]
        assert "CN=Redis Intermediate CA" in found.detail and "only that root" in found.detail
        assert "leaf + intermediate" in found.fix
        corpus.renew_step_leaf(dep)  # `step ca renew`: leaf + intermediate
        with redis_client(
            "127.0.0.1", node.port, files, server_hostname="localhost", mode="compatible"
        ) as rc:
            rc.config_set("tls-cert-file", str(dep.cert))  # the reload the fix names, in one CONFIG SET
        assert adopt.assess([endpoint]).ok
    finally:
        sandbox.stop_node(node)


def test_cluster_state_is_read_and_its_cause_named(tmp_path: Path) -> None:
    """A cluster-enabled node that serves no slot: cluster_state:fail is a finding naming why; once every
    slot is assigned the state turns ok (waited for, not slept) and the finding goes."""
    dep = corpus.build("step", tmp_path / "step")
    node_dir = tmp_path / "node"
    node = corpus.start(
        dep, node_dir, cluster_enabled="yes", cluster_config_file=str(node_dir / "nodes.conf")
    )
    try:
        endpoint = dep.endpoint(node.port)
        before = adopt.assess([endpoint])
        assert before.finding_ids == {"cluster-not-ok"}, before.findings
        assert "has not joined a cluster" in before.findings[0].detail
        assert "cluster_state:fail" in next(v.detail for v in before.views if v.client == "cluster")
        with redis_client(
            "127.0.0.1", node.port, dep.files, server_hostname="localhost", mode="compatible"
        ) as rc:
            rc.execute_command("CLUSTER", "ADDSLOTSRANGE", "0", "8191")
            half = adopt.assess([endpoint])
            assert half.finding_ids == {"cluster-not-ok"} and "8192 of 16384 slots are not assigned" in (
                half.findings[0].detail
            ), half.findings
            rc.execute_command("CLUSTER", "ADDSLOTSRANGE", "8192", "16383")
            deadline = time.monotonic() + 10
            while "cluster_state:ok" not in str(rc.execute_command("CLUSTER", "INFO")):
                assert time.monotonic() < deadline, "cluster_state never turned ok"
                time.sleep(0.05)
        after = adopt.assess([endpoint])
        assert after.ok, after.findings
        assert next(v for v in after.views if v.client == "cluster").ok
    finally:
        sandbox.stop_node(node)


def test_a_refusal_no_finding_explains_becomes_a_finding() -> None:
    """A clean assessment must be true for every client: a failing client view at a node where no TLS
    finding says why (e.g. Node's name rules differ from OpenSSL's) is itself reported."""
    node = "127.0.0.1:6380"
    views = [
        ClientView(node, "strict", True, "PONG"),
        ClientView(node, "openssl", True, "PONG"),
        ClientView(
            node,
            "node",
            False,
            "ERR_TLS_CERT_ALTNAME_INVALID: Host: redis.internal. is not in the cert's altnames",
        ),
        ClientView(node, "replica", False, "replica of 127.0.0.1:6379: master_link_status down"),
        ClientView("127.0.0.1:6381", "redis-py", False, "refused"),
    ]
    assert [v.client for v in unexplained_refusals(views, [], node)] == ["node"]
    expiry = Finding("cert-expiry", node, "server certificate: 2 days left of 90", "renew")
    assert [v.client for v in unexplained_refusals(views, [expiry], node)] == [
        "node"
    ]  # dates explain no refusal
    cn_only = Finding("server-name-cn-only", node, "the name is only in the CN", "re-issue")
    assert unexplained_refusals(views, [cn_only], node) == []
    assert unexplained_refusals(views, [cn_only], "127.0.0.1:6381")[0].client == "redis-py"  # per node
