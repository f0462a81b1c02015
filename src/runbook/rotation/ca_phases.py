"""The three CA phases, each backed up, swapped, reloaded and verified node by node.

* :func:`ca_bundle`: a new CA; ``ca.crt`` = new + old on every node and for the clients; a
  client certificate from the new CA is accepted and the current certificates still work;
* :func:`ca_reissue`: server, outgoing-link and client certificates re-issued from the new CA,
  each given the leaf preflight against the new CA alone;
* :func:`ca_retire`: ``ca.crt`` = the new CA only; a client certificate from the old CA is refused.

A throwaway probe client (:func:`_probe_client`) proves which CA a server trusts. Writes files,
reloads servers.
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from runbook import files, pki
from runbook.client import TlsClientFiles, tls_context, wire
from runbook.errors import RunbookError
from runbook.results import CheckResult, all_ok
from runbook.rotation.apply import NodeWork, Rotation
from runbook.rotation.issuing import ca_encrypted, load_ca, reissue_like
from runbook.rotation.preflight import preflight_leaf, preflight_link
from runbook.rotation.report import Fault, RotationReport
from runbook.rotation.targets import (
    NodeTarget,
    link_settings,
    serial_of,
    served_by,
    server_settings,
)
from runbook.rotation.verify import client_verify

# --------------------------------------------------------------------------- shared by the phases


def _pem(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _ca_files(targets: Sequence[NodeTarget], paths: pki.PkiPaths) -> list[Path]:
    return list(dict.fromkeys([paths.ca_cert.resolve(), *(n.local(n.ca_file).resolve() for n in targets)]))


def _ca_file_work(targets: Sequence[NodeTarget], writes: list[files.PlannedWrite]) -> list[NodeWork]:
    """Write the CA files once (with the first node), reload ``tls-ca-cert-file`` on every node."""
    return [
        NodeWork(n, writes if i == 0 else [], [("tls-ca-cert-file", n.ca_file)], None, None)
        for i, n in enumerate(targets)
    ]


def _refused(sub: RotationReport, checks: list[CheckResult]) -> bool:
    """Record a phase's preflight; True (and status ``refused``) when a check failed."""
    sub.steps += checks
    if all_ok(checks):
        return False
    sub.ok, sub.status = False, "refused"
    return True


def _run_phase(
    sub: RotationReport,
    rot: Rotation,
    work: Sequence[NodeWork],
    verify: Callable[[], bool],
    extra_writes: Sequence[files.PlannedWrite] = (),
) -> None:
    """Backup, swap, reload and verify the phase's work, then ``verify()`` it; sets the phase status."""
    try:
        rot.open_sentinels()
        ok = rot.run(work, extra_writes)
        if ok:
            ok = verify()
    finally:
        rot.close()
    sub.ok = ok
    sub.status = "rotated" if ok else "rolled-back"


@contextlib.contextmanager
def _probe_client(ca: pki.Issued, paths: pki.PkiPaths) -> Iterator[TlsClientFiles]:
    """A throwaway client certificate from ``ca`` in a private temp dir under the PKI root (deleted
    afterwards), trusting the clients' CA file."""
    leaf = pki.make_leaf(ca, "rotation-probe", purpose="client", hostnames=["rotation-probe"], days=1)
    paths.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".probe-", dir=paths.root) as tmp:
        cert, key = Path(tmp) / "probe.crt", Path(tmp) / "probe.key"
        files.write_all(leaf.planned_writes(cert, key))
        yield TlsClientFiles(str(paths.ca_cert), str(cert), str(key))


def _accepted(node: NodeTarget, tls: TlsClientFiles, server_hostname: str | None) -> bool:
    """True when a fresh mutual-TLS connection with ``tls`` gets an answer to PING (no retries)."""
    try:
        ctx = tls_context(tls, mode="compatible")
        with (
            socket.create_connection((node.endpoint.host, node.endpoint.port), timeout=3.0) as raw,
            ctx.wrap_socket(raw, server_hostname=server_hostname or node.endpoint.host) as sock,
        ):
            return wire.command(sock, "PING") == b"PONG"
    except (OSError, ValueError):
        return False


def _ca_profile_of(cert: x509.Certificate) -> list[CheckResult]:
    with tempfile.NamedTemporaryFile(suffix=".crt") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
        fh.flush()
        return pki.ca_profile(fh.name)


# --------------------------------------------------------------------------- phase 1: bundle


def ca_bundle(
    sub: RotationReport,
    paths: pki.PkiPaths,
    targets: Sequence[NodeTarget],
    tls: Callable[[], TlsClientFiles],
    server_hostname: str | None,
    days: int,
    fault: Fault | None,
) -> None:
    old = load_ca(paths)
    old_chain = pki.load_certs(paths.ca_cert)
    key_type = pki.key_description(old.cert.public_key())[0]
    new = pki.make_ca(key_type if key_type in pki.KEY_TYPES else "ecdsa-p256", max(days, 3650))
    sub.old_serial, sub.new_serial = serial_of(old.cert), serial_of(new.cert)
    checks = [CheckResult(f"preflight:{r.id}", r.status, r.detail, r.fix) for r in _ca_profile_of(new.cert)]
    if _refused(sub, checks):
        return
    bundle = _pem([new.cert, *old_chain])
    writes = [files.PlannedWrite(p, bundle, files.PUBLIC) for p in _ca_files(targets, paths)]
    passphrase = pki.passphrase_from_env(pki.CA_ENV) if ca_encrypted(paths) else None
    writes.append(files.PlannedWrite(paths.ca_key, new.key_pem(passphrase), files.PRIVATE))
    work = _ca_file_work(targets, writes)
    rot = Rotation(sub, paths, tls, targets, server_hostname, fault, relink=False)

    def verify() -> bool:
        ok = _verify_bundle(sub, new, targets, tls, server_hostname, paths)
        if not ok:
            rot.rollback(work, rot.backup_dir, rot.root)
        return ok

    _run_phase(sub, rot, work, verify)


def _verify_bundle(
    sub: RotationReport,
    new: pki.Issued,
    targets: Sequence[NodeTarget],
    tls: Callable[[], TlsClientFiles],
    server_hostname: str | None,
    paths: pki.PkiPaths,
) -> bool:
    """Both CAs are trusted: a new-CA client is accepted and the current (old-CA) certificates still work."""
    ok = True
    with _probe_client(new, paths) as probe:
        for n in targets:
            accepted = _accepted(n, probe, server_hostname)
            sub.add(
                f"verify:{n.name}:new-ca-trusted",
                "pass" if accepted else "fail",
                "a client certificate from the new CA is accepted"
                if accepted
                else "the new CA is not trusted yet",
                "" if accepted else "check tls-ca-cert-file",
            )
            still = _accepted(n, tls(), server_hostname)
            sub.add(
                f"verify:{n.name}:old-leaves",
                "pass" if still else "fail",
                "current certificates (old CA) still verify both ways"
                if still
                else "old certificates stopped working",
                "" if still else "restore from the backup",
            )
            ok = ok and accepted and still
    return ok


# --------------------------------------------------------------------------- phase 2: reissue


def ca_reissue(
    sub: RotationReport,
    paths: pki.PkiPaths,
    targets: Sequence[NodeTarget],
    tls: Callable[[], TlsClientFiles],
    server_hostname: str | None,
    days: int,
    fault: Fault | None,
    relink: bool,
) -> None:
    ca = load_ca(paths)
    new_only = [pki.load_certs(paths.ca_cert)[0]]
    checks: list[CheckResult] = []
    client_writes = _reissue_clients(paths, ca, days, new_only, checks)
    issued_for: dict[Path, pki.Issued] = {}
    work = [
        _reissue_node(sub, node, ca, days, tls, server_hostname, new_only, issued_for, checks)
        for node in targets
    ]
    if _refused(sub, checks):
        return
    rot = Rotation(sub, paths, tls, targets, server_hostname, fault, relink)

    def verify() -> bool:
        ok = True
        for node in targets:
            ok = client_verify(sub, node, tls(), server_hostname) and ok
        return ok

    _run_phase(sub, rot, work, verify, client_writes)


def _reissue_clients(
    paths: pki.PkiPaths,
    ca: pki.Issued,
    days: int,
    new_only: list[x509.Certificate],
    checks: list[CheckResult],
) -> list[files.PlannedWrite]:
    """Every client certificate of the PKI re-issued from the new CA and preflighted (into ``checks``)."""
    writes: list[files.PlannedWrite] = []
    for client_name in paths.client_names():
        issued = reissue_like(pki.load_cert(paths.client_cert(client_name)), ca, days=days)
        checks += preflight_leaf(
            f"preflight:{client_name}:",
            issued.cert,
            issued.key,
            purpose="client",
            client_trust=new_only,
            server_trust=new_only,
        )
        writes += issued.planned_writes(paths.client_cert(client_name), paths.client_key(client_name))
    return writes


def _reissue_node(
    sub: RotationReport,
    node: NodeTarget,
    ca: pki.Issued,
    days: int,
    tls: Callable[[], TlsClientFiles],
    server_hostname: str | None,
    new_only: list[x509.Certificate],
    issued_for: dict[Path, pki.Issued],
    checks: list[CheckResult],
) -> NodeWork:
    """The node's server (and outgoing-link) certificate re-issued from the new CA, preflighted into ``checks``.

    The link certificate gets the same leaf preflight as in a server rotation (it is a client of
    the other servers, so it must chain to the new CA and carry clientAuth).
    """
    served = served_by(node, tls(), server_hostname)
    cert_path = node.local(node.cert_file).resolve()
    leaf = issued_for.get(cert_path) or reissue_like(served, ca, days=days)
    issued_for[cert_path] = leaf
    sub.old_serial = sub.old_serial or serial_of(served)
    sub.new_serial = serial_of(leaf.cert)
    checks += preflight_leaf(
        f"preflight:{node.name}:",
        leaf.cert,
        leaf.key,
        purpose="server",
        client_trust=new_only,
        server_trust=new_only,
        names=[server_hostname or node.endpoint.host],
        old=served,
    )
    writes = leaf.planned_writes(cert_path, node.local(node.key_file).resolve())
    settings = server_settings(node)
    if node.client_cert_file and node.client_key_file:
        link = reissue_like(pki.load_cert(node.local(node.client_cert_file)), ca, days=days)
        checks += preflight_link(node, link, client_trust=new_only, server_trust=new_only)
        writes += link.planned_writes(
            node.local(node.client_cert_file).resolve(), node.local(node.client_key_file).resolve()
        )
        settings += link_settings(node)
    return NodeWork(node, writes, settings, leaf.cert, served, relink=True)


# --------------------------------------------------------------------------- phase 3: retire


def ca_retire(
    sub: RotationReport,
    paths: pki.PkiPaths,
    targets: Sequence[NodeTarget],
    tls: Callable[[], TlsClientFiles],
    server_hostname: str | None,
    old_ca: pki.Issued | None,
) -> None:
    cas = pki.load_certs(paths.ca_cert)
    new, retired = cas[0], cas[1:]
    sub.old_serial = ", ".join(serial_of(c) for c in retired)
    sub.new_serial = serial_of(new)
    if _refused(sub, _retire_preflight(paths, targets, tls, server_hostname, new)):
        return
    writes = [files.PlannedWrite(p, _pem([new]), files.PUBLIC) for p in _ca_files(targets, paths)]
    rot = Rotation(sub, paths, tls, targets, server_hostname, None, relink=False)

    def verify() -> bool:
        ok = True
        for n in targets:
            ok = client_verify(sub, n, tls(), server_hostname) and ok
            if old_ca is not None:
                ok = _old_ca_refused(sub, n, old_ca, paths, server_hostname) and ok
        return ok

    _run_phase(sub, rot, _ca_file_work(targets, writes), verify)


def _retire_preflight(
    paths: pki.PkiPaths,
    targets: Sequence[NodeTarget],
    tls: Callable[[], TlsClientFiles],
    server_hostname: str | None,
    new: x509.Certificate,
) -> list[CheckResult]:
    """Nothing still depends on the old CA: every served and client certificate is from ``new``."""
    checks: list[CheckResult] = []
    for node in targets:
        served = served_by(node, tls(), server_hostname)
        check = f"preflight:{node.name}:served-by-new-ca"
        try:
            pki.verify_server_cert(served, [new], server_hostname or node.endpoint.host)
            checks.append(CheckResult(check, "pass", "the served certificate chains to the new CA alone"))
        except RunbookError as exc:
            checks.append(CheckResult(check, "fail", str(exc), "run phase reissue first"))
    for client_name in paths.client_names():
        ok = pki.signed_by(pki.load_cert(paths.client_cert(client_name)), new)
        checks.append(
            CheckResult(
                f"preflight:{client_name}:issued-by-new-ca",
                "pass" if ok else "fail",
                "issued by the new CA" if ok else "still issued by the old CA",
                "" if ok else "run phase reissue first",
            )
        )
    return checks


def _old_ca_refused(
    sub: RotationReport,
    node: NodeTarget,
    old_ca: pki.Issued,
    paths: pki.PkiPaths,
    server_hostname: str | None,
) -> bool:
    with _probe_client(old_ca, paths) as probe:
        refused = not _accepted(node, probe, server_hostname)
    sub.add(
        f"verify:{node.name}:old-ca-refused",
        "pass" if refused else "fail",
        "a client certificate from the retired CA is refused"
        if refused
        else "the retired CA is still trusted",
        "" if refused else "check tls-ca-cert-file / tls-ca-cert-dir",
    )
    return refused
