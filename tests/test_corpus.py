"""The real-world corpus (tests/corpus.py) through every admin path, against real redis-server processes.

Each deployment is built the way its tool builds it and served by redis-server with its own files;
check, diagnose, rotate, watch --once and adopt must work on each and name its true cause.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

import corpus
from runbook import adopt, checks, cli, diagnose, sandbox, watch
from runbook.client import Endpoint, tls_context

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def corpus_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


@pytest.fixture(scope="session")
def built(corpus_root: Path) -> dict[str, corpus.Deployment]:
    """Every recipe, built once per session (the openssl RSA-4096 CAs take seconds)."""
    return {r: corpus.build(r, corpus_root / r) for r in corpus.RECIPES}


@pytest.fixture(params=corpus.RECIPES)
def served(
    request: pytest.FixtureRequest, built: dict[str, corpus.Deployment], tmp_path: Path
) -> Iterator[tuple[corpus.Deployment, sandbox.Node]]:
    """One deployment served by its own redis-server (stopped afterwards)."""
    dep = built[request.param]
    node = corpus.start(dep, tmp_path / "node")
    yield dep, node
    sandbox.stop_node(node)


def test_corpus_is_what_its_tools_make(built: dict[str, corpus.Deployment]) -> None:
    def load(p: Path) -> list[x509.Certificate]:
        return x509.load_pem_x509_certificates(p.read_bytes())

    def ext(c: x509.Certificate, cls: type[x509.ExtensionType]) -> x509.Extension[x509.ExtensionType] | None:
        try:
            return c.extensions.get_extension_for_class(cls)
        except x509.ExtensionNotFound:
            return None

    guide, gtc, step = built["guide"], built["gen-test-certs"], built["step"]
    assert ext(load(guide.ca)[0], x509.KeyUsage) is None  # openssl req -x509: no keyUsage
    assert ext(load(gtc.cert)[0], x509.SubjectAlternativeName) is None  # gen-test-certs: CN only
    assert [f.name for f in sorted(gtc.cert.parent.iterdir())][:2] == ["ca.crt", "ca.key"]
    assert len(load(step.cert)) == 2  # leaf + intermediate in one file
    leaf = load(step.cert)[0]
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc <= step.lifetime + step.lifetime / 1000
    cm = built["cert-manager"]
    assert cm.cert.is_symlink() and (cm.cert.parent / "..data").is_symlink()
    assert str((cm.cert.parent / "..data").readlink()).startswith("..2026_")
    san = ext(load(cm.cert)[0], x509.SubjectAlternativeName)
    assert san is not None and san.critical  # empty subject: SAN critical
    helm_ca = ext(load(built["helm"].ca)[0], x509.KeyUsage)
    assert helm_ca is not None and helm_ca.critical and not helm_ca.value.crl_sign  # type: ignore[attr-defined]
    mk = load(built["mkcert"].cert)[0]
    assert not mk.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)


def test_each_deployment_serves_what_redis_accepts(served: tuple[corpus.Deployment, sandbox.Node]) -> None:
    """Redis and OpenSSL (compatible) accept every deployment; strict clients only the strict ones."""
    dep, node = served
    assert corpus.ping(dep, node.port, "compatible") == "+PONG\r\n"
    strict = corpus.ping(dep, node.port, "strict")
    if dep.cause == "ca-not-strict":
        assert "key usage" in strict, strict
    else:
        assert strict == "+PONG\r\n"


def test_watch_once_works_on_every_deployment(
    served: tuple[corpus.Deployment, sandbox.Node], tmp_path: Path
) -> None:
    """watch --once connects as Redis/OpenSSL would: a CA strict clients refuse never blocks it."""
    dep, node = served
    report = watch.watch_once([_watch_target(dep, node)], state_dir=tmp_path / "state", settle=0.0)
    assert report.ok, report.to_dict()
    assert report.nodes[0].served_serial


def test_watcher_reloads_a_renewal_whose_client_identity_has_no_san(
    built: dict[str, corpus.Deployment], tmp_path: Path
) -> None:
    """Helm's genSignedCert client identity has no subjectAltName: Redis and OpenSSL accept it, so the
    consistency checks (ca-accepts-clients) must too, and the renewed server pair is reloaded."""
    import shutil

    src = built["helm"]
    root = tmp_path / "helm"
    shutil.copytree(src.root, root)
    dep = corpus.Deployment(
        "helm", root, root / "ca.crt", root / "tls.crt", root / "tls.key", root / "client.crt",
        root / "client.key", "localhost", root / "ca.key", src.lifetime, "ok",
    )  # fmt: skip
    client = x509.load_pem_x509_certificate(dep.client_cert.read_bytes())
    with pytest.raises(x509.ExtensionNotFound):
        client.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    node = corpus.start(dep, tmp_path / "node")
    try:
        old = x509.load_pem_x509_certificate(dep.cert.read_bytes())
        corpus.renew_helm_leaf(dep)
        new = x509.load_pem_x509_certificate(dep.cert.read_bytes())
        assert new.serial_number != old.serial_number
        report = watch.watch_once([_watch_target(dep, node)], state_dir=tmp_path / "state", settle=0.0)
        assert report.ok, report.to_dict()
        assert report.nodes[0].reloads["reloaded"] == 1
        assert report.nodes[0].served_serial == format(new.serial_number, "X")
    finally:
        sandbox.stop_node(node)


def _watch_target(dep: corpus.Deployment, node: sandbox.Node) -> watch.WatchTarget:
    return watch.WatchTarget(dep.endpoint(node.port))


def test_diagnose_names_the_true_cause(served: tuple[corpus.Deployment, sandbox.Node]) -> None:
    """The right CA is never blamed as untrusted: a guide's CA is ``ca-not-strict`` with its fix."""
    dep, node = served
    d = diagnose.diagnose_endpoint(dep.endpoint(node.port), settle=0.0)
    assert d.cause == dep.cause, (d.cause, d.evidence)
    if dep.cause == "ca-not-strict":
        assert f"runbook pki resign-ca --ca {dep.ca}" in d.fix
        assert "pki create" not in d.fix
        assert any("no keyUsage" in e for e in d.evidence)
    if "server-name-cn-only" in dep.findings:
        assert "subjectAltName DNS:Generic-cert" in d.fix


@pytest.mark.parametrize("recipe", ["guide", "gen-test-certs"])
def test_resign_ca_makes_strict_clients_accept_the_same_leaves(
    recipe: str, built: dict[str, corpus.Deployment], tmp_path: Path
) -> None:
    """``pki resign-ca`` (the fix diagnose prints): same key, subject and serial; the server keeps its
    leaf and strict clients verify it; the old CA file is untouched; an existing output is backed up."""
    import subprocess
    import sys

    dep = built[recipe]
    node = corpus.start(dep, tmp_path / "node")
    out = tmp_path / "ca-strict.crt"
    out.write_bytes(b"an older file\n")
    before = dep.ca.read_bytes()
    try:
        run = subprocess.run(
            [sys.executable, "-m", "runbook", "pki", "resign-ca", "--ca", str(dep.ca), "--ca-key",
             str(dep.ca_key), "--out", str(out)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert "fixed  no keyUsage" in run.stdout
        assert dep.ca.read_bytes() == before
        backups = list((tmp_path / "backups").rglob("ca-strict.crt"))
        assert [b.read_bytes() for b in backups] == [b"an older file\n"]
        old, new = (x509.load_pem_x509_certificate(p.read_bytes()) for p in (dep.ca, out))
        assert (new.subject, new.serial_number) == (old.subject, old.serial_number)
        assert new.public_key() == old.public_key()
        strict = corpus.Deployment(**{**dep.__dict__, "ca": out})
        verify = subprocess.run(
            ["openssl", "verify", "-x509_strict", "-CAfile", str(out), str(dep.cert)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert verify.returncode == 0, verify.stderr
        if recipe == "guide":
            assert corpus.ping(strict, node.port, "strict") == "+PONG\r\n"
        else:  # the name is still only in the CN: that is the remaining finding
            assert "Hostname mismatch" in corpus.ping(strict, node.port, "strict")
            d = diagnose.diagnose_endpoint(
                Endpoint("127.0.0.1", node.port, dep.server_name, strict.files), settle=0.0
            )
            assert d.cause == "server-name-cn-only", d.evidence
    finally:
        sandbox.stop_node(node)


def test_resign_ca_refuses_bad_input(built: dict[str, corpus.Deployment], tmp_path: Path) -> None:
    from runbook import pki
    from runbook.errors import RunbookError

    guide, step = built["guide"], built["step"]
    with pytest.raises(RunbookError, match="is the CA file itself"):
        pki.resign_ca(guide.ca, guide.ca_key or "", guide.ca)
    with pytest.raises(RunbookError, match="does not belong to the CA certificate"):
        pki.resign_ca(guide.ca, step.ca_key or "", tmp_path / "x.crt")
    with pytest.raises(RunbookError, match=r"--ca-key .* is not a file"):
        pki.resign_ca(guide.ca, tmp_path / "missing.key", tmp_path / "x.crt")
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(guide.ca_key.read_bytes() if guide.ca_key else b"", None)
    locked = tmp_path / "ca.key"
    locked.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret"),
        )
    )
    with pytest.raises(RunbookError, match="encrypted: pass --ca-passphrase-env VAR"):
        pki.resign_ca(guide.ca, locked, tmp_path / "x.crt")
    assert not (tmp_path / "x.crt").exists()
    done = pki.resign_ca(guide.ca, locked, tmp_path / "x.crt", passphrase=b"s3cret")
    assert done.fixed == ["no keyUsage"] and (tmp_path / "x.crt").is_file()


def test_check_works_on_every_deployment(served: tuple[corpus.Deployment, sandbox.Node]) -> None:
    """The audit connects as Redis/OpenSSL do; strictness is its own check; 24 h step certificates are
    judged against their lifetime (hours shown, not "0 days")."""
    dep, node = served
    report = checks.audit(dep.endpoint(node.port), scan_ciphers=False)
    by_id = {c.id: c for c in report}
    assert by_id["tls-handshake"].status == "pass", by_id["tls-handshake"]
    assert by_id["redis-ping"].status == "pass"
    expiry = by_id["cert-expiry"]
    assert expiry.status == "pass", expiry
    if dep.recipe == "step":
        assert "23 h left of 24 h" in expiry.detail and "0 days" not in expiry.detail
        assert "intermediate Redis Intermediate CA" in expiry.detail  # the whole served chain
    strict = by_id["chain-strict"]
    if "ca-not-strict" in dep.findings:
        assert strict.status == "fail" and "pki resign-ca" in strict.fix, strict
        assert "pki create" not in strict.fix
    else:
        assert strict.status == "pass", strict


def test_adopt_assesses_every_deployment(served: tuple[corpus.Deployment, sandbox.Node]) -> None:
    """adopt's findings are exactly the deployment's true ones; Redis-compatible clients connect."""
    dep, node = served
    result = adopt.assess([dep.endpoint(node.port)])
    assert result.finding_ids == dep.findings, result.findings
    seen = {v.client: v.ok for v in result.views}
    assert seen["openssl"] and seen["redis-cli"] and seen["replica"]
    strict_ok = not dep.findings
    assert seen["strict"] is strict_ok and seen["redis-py"] is strict_ok, result.views
    for f in result.findings:
        assert "pki create" not in f.fix
        if f.id == "ca-not-strict":
            assert f"runbook pki resign-ca --ca {dep.ca}" in f.fix


def test_adopt_cli_exit_codes(built: dict[str, corpus.Deployment], tmp_path: Path) -> None:
    """0 clean, 1 findings, 2 bad input (one line naming the file or flag)."""
    import subprocess
    import sys

    def run(dep: corpus.Deployment, port: int, *extra: str) -> subprocess.CompletedProcess[str]:
        args = ["--host", "127.0.0.1", "--port", str(port), "--server-name", dep.server_name,
                "--ca", str(dep.ca), *extra]  # fmt: skip
        return subprocess.run(
            [sys.executable, "-m", "runbook", "adopt", *args], capture_output=True, text=True, check=False
        )

    mk, guide = built["mkcert"], built["guide"]
    nodes = [corpus.start(mk, tmp_path / "mk"), corpus.start(guide, tmp_path / "guide")]
    try:
        clean = run(mk, nodes[0].port, "--cert", str(mk.client_cert), "--key", str(mk.client_key))
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert "clean: 1 node(s) assessed" in clean.stdout
        found = run(
            guide, nodes[1].port, "--cert", str(guide.client_cert), "--key", str(guide.client_key), "--json"
        )
        assert found.returncode == 1
        import json

        assert {f["id"] for f in json.loads(found.stdout)["findings"]} == {"ca-not-strict"}
        missing = run(mk, nodes[0].port, "--cert", str(tmp_path / "nope.crt"), "--key", str(mk.client_key))
        assert missing.returncode == 2 and f"--cert {tmp_path / 'nope.crt'} cannot be read" in missing.stderr
        alone = run(mk, nodes[0].port, "--cert", str(mk.client_cert))
        assert alone.returncode == 2 and "--cert and --key together" in alone.stderr
        bad_node = run(mk, nodes[0].port, "--node", "nohost")
        assert bad_node.returncode == 2 and "is not HOST:PORT" in bad_node.stderr
    finally:
        for n in nodes:
            sandbox.stop_node(n)


def test_adopt_reads_replication_links(built: dict[str, corpus.Deployment], tmp_path: Path) -> None:
    """A replica whose link is down is a finding naming that replica; a linked one is not."""
    import time

    dep = built["helm"]
    primary = corpus.start(dep, tmp_path / "primary")
    linked = corpus.start(
        dep, tmp_path / "linked", replicaof=f"127.0.0.1 {primary.port}", tls_replication="yes"
    )
    broken = corpus.start(  # plaintext replication to a TLS-only port: the link never comes up
        dep, tmp_path / "broken", replicaof=f"127.0.0.1 {primary.port}", tls_replication="no"
    )
    try:
        endpoints = [dep.endpoint(n.port) for n in (primary, linked, broken)]
        deadline = time.monotonic() + 20
        while True:
            result = adopt.assess(endpoints)
            link = {v.node: v for v in result.views if v.client == "replica"}
            if link[endpoints[1].address].ok or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert link[endpoints[1].address].ok, link
        assert [(f.id, f.node) for f in result.findings] == [("replica-link-down", endpoints[2].address)]
        assert f"runbook diagnose --host 127.0.0.1 --port {broken.port}" in result.findings[0].fix
        assert "1 replica(s)" in link[endpoints[0].address].detail
    finally:
        for n in (broken, linked, primary):
            sandbox.stop_node(n)


def _copy(dep: corpus.Deployment, root: Path) -> corpus.Deployment:
    """The deployment's files copied under ``root`` (tests that renew files must not touch the shared build)."""
    import shutil

    shutil.copytree(dep.root, root, symlinks=True)
    moved = {
        k: root / Path(v).relative_to(dep.root)
        for k, v in dep.__dict__.items()
        if isinstance(v, Path) and k != "root"
    }
    return corpus.Deployment(**{**dep.__dict__, **moved, "root": root})


def test_watch_reloads_a_step_renewal_and_refuses_a_leaf_without_its_intermediate(
    built: dict[str, corpus.Deployment], tmp_path: Path
) -> None:
    """Clients trust only root_ca.crt: a renewal written as step writes it (leaf + intermediate) is
    reloaded; a leaf written alone is refused before the reload (every root-only client would fail)."""
    dep = _copy(built["step"], tmp_path / "step")
    node = corpus.start(dep, tmp_path / "node")
    try:
        target = [_watch_target(dep, node)]
        renewed = corpus.renew_step_leaf(dep)
        report = watch.watch_once(target, state_dir=tmp_path / "state", settle=0.0)
        assert report.ok and report.nodes[0].reloads["reloaded"] == 1, report.to_dict()
        assert report.nodes[0].served_serial == format(renewed.serial_number, "X")
        assert corpus.ping(dep, node.port, "strict") == "+PONG\r\n"
        corpus.renew_step_leaf(dep, bundle=False)
        refused = watch.watch_once(target, state_dir=tmp_path / "state", settle=0.0)
        assert not refused.ok, refused.to_dict()
        assert refused.nodes[0].served_serial == format(renewed.serial_number, "X")  # still served
        assert corpus.ping(dep, node.port, "strict") == "+PONG\r\n"
    finally:
        sandbox.stop_node(node)


def test_a_missing_intermediate_is_named_and_fixed_with_our_own_commands(
    built: dict[str, corpus.Deployment], tmp_path: Path
) -> None:
    """A server sending its leaf without the intermediate: diagnose and adopt say so (not "untrusted CA"),
    and the fix they print (leaf + intermediate, then `watch --once`) works."""
    dep = _copy(built["step"], tmp_path / "step")
    corpus.renew_step_leaf(dep, bundle=False)
    node = corpus.start(dep, tmp_path / "node")
    try:
        d = diagnose.diagnose_endpoint(dep.endpoint(node.port), settle=0.0)
        assert d.cause == "missing-intermediate", (d.cause, d.evidence)
        assert any("without CN=Redis Intermediate CA" in e for e in d.evidence)
        assert "runbook watch --once --ca BUNDLE" in d.fix
        assessed = adopt.assess([dep.endpoint(node.port)])
        assert assessed.finding_ids == {"missing-intermediate"}
        inter = (dep.root / "certs" / "intermediate_ca.crt").read_bytes()
        renewed = corpus.renew_step_leaf(dep)  # the fix: `step ca renew` writes leaf then intermediate
        bundle = tmp_path / "bundle.crt"
        bundle.write_bytes(dep.ca.read_bytes() + inter)  # `cat ca.crt intermediate.crt > bundle.crt`
        admin = dep.endpoint(node.port).with_files(
            dep.files.__class__(str(bundle), dep.files.cert, dep.files.key)
        )
        report = watch.watch_once([watch.WatchTarget(admin)], state_dir=tmp_path / "state", settle=0.0)
        assert report.ok and report.nodes[0].reloads["reloaded"] == 1, report.to_dict()
        assert report.nodes[0].served_serial == format(renewed.serial_number, "X")
        after = diagnose.diagnose_endpoint(dep.endpoint(node.port), settle=0.0)
        assert after.cause == "ok", after.evidence
    finally:
        sandbox.stop_node(node)


@pytest.mark.parametrize("recipe", corpus.RECIPES)
def test_rotate_works_on_every_deployment(
    recipe: str,
    built: dict[str, corpus.Deployment],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`rotate server` with the operator's own flags: a new leaf from the deployment's own CA key is served
    and Redis-compatible clients still verify it; on the cert-manager volume nothing is written and the
    renewer's way is printed (status pending, exit 0)."""
    dep = corpus.copy(built[recipe], tmp_path / "dep")
    node = corpus.start(dep, tmp_path / "node")
    monkeypatch.setenv("RUNBOOK_WORK_DIR", str(tmp_path / "work"))
    try:
        before = x509.load_pem_x509_certificate(dep.cert.read_bytes())
        argv = [
            "rotate", "server", "--host", "127.0.0.1", "--port", str(node.port), "--server-name",
            dep.server_name, "--ca", str(dep.ca), "--cert", str(dep.client_cert), "--key", str(dep.client_key),
        ]  # fmt: skip
        if dep.ca_key is not None:
            argv += ["--ca-key", str(dep.ca_key)]
        code = cli.main(argv)
        out = capsys.readouterr()
        text = out.out + out.err
        served = _served_leaf(dep, node.port)
        if recipe == "cert-manager":
            assert code == 0 and "pending" in text and "cmctl renew" in text, text
            assert served.serial_number == before.serial_number
        else:
            assert code == 0 and "rotated" in text, text
            assert served.serial_number != before.serial_number
            assert corpus.ping(dep, node.port, "compatible") == "+PONG\r\n"
    finally:
        sandbox.stop_node(node)


def _served_leaf(dep: corpus.Deployment, port: int) -> x509.Certificate:
    ctx = tls_context(dep.files, mode="none")
    with (
        socket.create_connection(("127.0.0.1", port), timeout=3) as raw,
        ctx.wrap_socket(raw, server_hostname=dep.server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)
