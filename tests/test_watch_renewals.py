"""Renewals made the way the guide's openssl lines, Redis's gen-test-certs.sh and cert-manager make them
are judged by what Redis and OpenSSL accept (issue 17 item 1): ``watch --once`` reloads them and ``rotate server``
/ ``rotate client`` install them, each strict-profile finding reported as a warning; a renewal that
really breaks Redis-compatible clients (a name not covered, the wrong CA) is still refused with nothing
loaded. Real redis-server on loopback, certificates made by the openssl CLI."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

import corpus
from runbook import cli, rotation, sandbox, watch

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, corpus.Deployment]:
    """guide and gen-test-certs built once (RSA-4096 CAs take seconds); each test serves a copy."""
    root = tmp_path_factory.mktemp("renewals")
    return {r: corpus.build(r, root / r) for r in ("guide", "gen-test-certs")}


def _copy(dep: corpus.Deployment, root: Path) -> corpus.Deployment:
    shutil.copytree(dep.root, root)

    def moved(p: Path | None) -> Path | None:
        return None if p is None else root / p.relative_to(dep.root)

    fields = {k: moved(v) if isinstance(v, Path) else v for k, v in dep.__dict__.items()}
    return corpus.Deployment(**{**fields, "root": root})


@pytest.fixture
def guide(originals: dict[str, corpus.Deployment], tmp_path: Path) -> Iterator[tuple[corpus.Deployment, int]]:
    yield from _serve(_copy(originals["guide"], tmp_path / "guide"), tmp_path)


@pytest.fixture
def gtc(originals: dict[str, corpus.Deployment], tmp_path: Path) -> Iterator[tuple[corpus.Deployment, int]]:
    yield from _serve(_copy(originals["gen-test-certs"], tmp_path / "gtc"), tmp_path)


def _serve(dep: corpus.Deployment, tmp_path: Path) -> Iterator[tuple[corpus.Deployment, int]]:
    node = corpus.start(dep, tmp_path / "node")
    try:
        yield dep, node.port
    finally:
        sandbox.stop_node(node)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RUNBOOK_WORK_DIR", str(tmp_path / "work"))
    return tmp_path / "work"


def _watch_once(dep: corpus.Deployment, port: int, state: Path) -> watch.WatchReport:
    return watch.watch_once([watch.WatchTarget(dep.endpoint(port))], state_dir=state, settle=0.0)


def _served(dep: corpus.Deployment, port: int) -> int:
    return rotation.served_certificate("127.0.0.1", port, dep.files, dep.server_name).serial_number


def _events(report: watch.WatchReport, kind: str) -> list[watch.WatchEvent]:
    return [e for e in report.events if e.kind == kind]


def _rotate(dep: corpus.Deployment, port: int, kind: str, *extra: str) -> int:
    identity = ["--ca", str(dep.ca), "--cert", str(dep.client_cert), "--key", str(dep.client_key)]
    target = ["--host", "127.0.0.1", "--port", str(port), "--server-name", dep.server_name]
    return cli.main(["rotate", kind, *target, *identity, *extra, "--json"])


# --------------------------------------------------------------------------- accepted, with warnings


def test_guide_renewal_with_a_v1_client_identity_is_reloaded(
    guide: tuple[corpus.Deployment, int], tmp_path: Path
) -> None:
    """The guide's client certificate is v1 (``openssl x509 -req`` without -extfile) and its server
    renewal has no extendedKeyUsage: Redis accepts both, so the watcher reloads, warning about v1."""
    dep, port = guide
    assert x509.load_pem_x509_certificate(dep.client_cert.read_bytes()).version == x509.Version.v1
    assert corpus.ping(dep, port) == "+PONG\r\n"  # Redis accepts the v1 client identity
    renewed = corpus.renew_guide_leaf(dep)
    with pytest.raises(x509.ExtensionNotFound):
        renewed.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    report = _watch_once(dep, port, tmp_path / "state")
    lines = "\n".join(e.line() for e in report.events)
    assert report.ok and report.nodes[0].reloads["reloaded"] == 1, lines
    assert _served(dep, port) == renewed.serial_number
    assert report.nodes[0].served_serial == rotation.serial_of(renewed)
    by_check = {e.detail.split(":", 1)[0]: e for e in _events(report, "warning")}
    assert "strict clients/verifiers refuse v1 certificates" in by_check["ca-accepts-clients"].detail
    assert "X.509 v3" in by_check["ca-accepts-clients"].fix
    assert f"runbook pki resign-ca --ca {dep.ca}" in by_check["ca-accepts-clients"].fix  # no keyUsage
    assert not _events(report, "refused")
    assert corpus.ping(dep, port) == "+PONG\r\n"


def test_gen_test_certs_renewal_without_eku_or_san_is_reloaded_with_the_cn_warning(
    gtc: tuple[corpus.Deployment, int], tmp_path: Path
) -> None:
    """gen-test-certs.sh again: no extendedKeyUsage (any purpose to OpenSSL), the name only in the CN
    as in the served certificate: reloaded, the CN-only name reported with adopt --migrate as its fix."""
    dep, port = gtc
    old = _served(dep, port)
    renewed = corpus.renew_gen_test_certs_leaf(dep)
    assert renewed.version == x509.Version.v1
    report = _watch_once(dep, port, tmp_path / "state")
    lines = "\n".join(e.line() for e in report.events)
    assert report.ok and report.nodes[0].reloads["reloaded"] == 1, lines
    assert _served(dep, port) == renewed.serial_number != old
    warnings = {e.detail.split(":", 1)[0]: e for e in _events(report, "warning")}
    sans = warnings["sans"]
    assert (
        "Generic-cert only in its subject CN" in sans.detail and "like the served certificate" in sans.detail
    )
    assert "subjectAltName DNS:Generic-cert" in sans.fix and "--migrate" in sans.fix
    assert "refuse v1 certificates" in warnings["chain"].detail
    assert report.to_dict()["nodes"][0]["warnings"] == len(warnings)
    assert corpus.ping(dep, port) == "+PONG\r\n"


def test_rotate_server_installs_guide_and_gen_test_certs_renewals(
    guide: tuple[corpus.Deployment, int], gtc: tuple[corpus.Deployment, int], work: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """``rotate server --new-cert/--new-key`` shares the judgement: both renewals are rotated in,
    their strict findings are warnings in the report."""
    for (dep, port), renew in ((guide, corpus.renew_guide_leaf), (gtc, corpus.renew_gen_test_certs_leaf)):
        renewed = renew(dep, stem="renewed")
        new_cert, new_key = dep.cert.with_name("renewed.crt"), dep.cert.with_name("renewed.key")
        code = _rotate(dep, port, "server", "--new-cert", str(new_cert), "--new-key", str(new_key))
        report = json.loads(capsys.readouterr().out)
        assert code == 0 and report["status"] == "rotated", (dep.recipe, report["steps"])
        assert _served(dep, port) == renewed.serial_number
        statuses = {s["id"].rsplit(":", 1)[-1]: s["status"] for s in report["steps"]}
        assert statuses["eku"] == "pass" and statuses["chain"] == "warn", statuses
        assert statuses["sans"] == ("warn" if dep.recipe == "gen-test-certs" else "pass")


def test_rotate_client_installs_a_v1_client_renewal(
    guide: tuple[corpus.Deployment, int], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A guide-made client identity renewed the guide's way (v1) is accepted by Redis: rotated, with
    the v1 warning; the server accepts the new identity."""
    dep, port = guide
    corpus._openssl_leaf(dep.root, "client-new", "/CN=redis-client", "ca.crt", "ca.key", [])
    new_cert, new_key = dep.root / "client-new.crt", dep.root / "client-new.key"
    code = _rotate(dep, port, "client", "--new-cert", str(new_cert), "--new-key", str(new_key))
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["status"] == "rotated", report["steps"]
    chain = next(s for s in report["steps"] if s["id"].endswith(":chain"))
    assert chain["status"] == "warn" and "refuse v1 certificates" in chain["detail"]
    assert dep.client_cert.read_bytes() == new_cert.read_bytes()
    assert corpus.ping(dep, port) == "+PONG\r\n"


@pytest.fixture
def cert_manager(tmp_path: Path) -> Iterator[tuple[corpus.Deployment, int]]:
    yield from _serve(corpus.build("cert-manager", tmp_path / "cm"), tmp_path)


def test_cert_manager_renewal_without_eku_is_reloaded_through_the_data_swap(
    cert_manager: tuple[corpus.Deployment, int], tmp_path: Path
) -> None:
    """cert-manager's default usages carry no extendedKeyUsage (any purpose for OpenSSL): the renewed
    Secret, swapped in by the kubelet's ``..data`` rename, is reloaded with no EKU finding."""
    dep, port = cert_manager
    renewed = corpus.renew_cert_manager_leaf(dep)
    with pytest.raises(x509.ExtensionNotFound):
        renewed.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    report = _watch_once(dep, port, tmp_path / "state")
    lines = "\n".join(e.line() for e in report.events)
    assert report.ok and report.nodes[0].reloads["reloaded"] == 1, lines
    assert _served(dep, port) == renewed.serial_number
    assert not [e for e in _events(report, "warning") if e.detail.startswith("eku")], lines
    assert dep.cert.is_symlink() and corpus.ping(dep, port) == "+PONG\r\n"


# --------------------------------------------------------------------------- still refused


def test_renewals_that_break_redis_compatible_clients_are_refused(
    guide: tuple[corpus.Deployment, int], gtc: tuple[corpus.Deployment, int],
    originals: dict[str, corpus.Deployment], tmp_path: Path,
) -> None:  # fmt: skip
    """Nothing is loaded, the old serial stays served and clients keep working, for: a gen-test-certs
    renewal for another name; a guide renewal from another CA; a guide renewal that forgot -extfile
    (localhost moved from subjectAltName to the CN: clients verifying by SAN would break)."""
    other_ca = corpus.build("guide", tmp_path / "other-ca")  # another `openssl req -x509` CA, its own key
    cases = [
        (gtc, lambda d: corpus.renew_gen_test_certs_leaf(d, cn="Other-cert"), "sans", "does not cover Generic-cert"),
        (guide, lambda d: corpus.renew_guide_leaf(d, issuer=other_ca), "chain", "cannot verify"),
        (guide, lambda d: corpus.renew_guide_leaf(d, extfile=None), "sans", "where the served certificate has it in subjectAltName"),
    ]  # fmt: skip
    for i, ((dep, port), renew, check, words) in enumerate(cases):
        old = _served(dep, port)
        before = (dep.cert.read_bytes(), dep.key.read_bytes())
        renew(dep)
        report = _watch_once(dep, port, tmp_path / f"state{i}")
        refused = _events(report, "refused")
        assert refused and not _events(report, "reloaded"), [e.line() for e in report.events]
        assert refused[0].detail.startswith(f"{check}: ") and words in refused[0].detail, refused[0].line()
        assert report.nodes[0].state == "refused" and _served(dep, port) == old
        assert corpus.ping(dep, port) == "+PONG\r\n"
        dep.key.write_bytes(before[1])  # put the served pair back for the next case
        dep.cert.write_bytes(before[0])
