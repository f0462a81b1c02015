"""Is a renewed set safe to load? The one-server preflight (:func:`runbook.rotation.preflight_leaf`)
applied to the bytes a snapshot read: the key matches the certificate, the chain verifies to the CA
the clients trust, the validity window contains now, the names cover every name the served
certificate is accepted for plus the name clients use (as OpenSSL matches them), the right EKU (none
at all is any purpose); the same for the outgoing-link certificate; and a renewed
``tls-ca-cert-file`` still accepts the watcher's own client certificate (so the reload cannot lock
the clients out). Judged as Redis and OpenSSL judge: what only strict clients refuse is a warning.
Reads nothing from disk (the OpenSSL handshake uses a private temporary directory, removed at once); touches no server.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from runbook import pki, rotation
from runbook.results import CheckResult
from runbook.watch.fileset import Snapshot


def parse_certs(data: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        return []


def parse_key(data: bytes) -> pki.PrivateKey | None:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (TypeError, ValueError):
        return None
    return key if isinstance(key, pki.PrivateKey) else None


def leaf_of(snapshot: Snapshot, role: str = "cert") -> x509.Certificate | None:
    certs = parse_certs(snapshot.data.get(role, b""))
    return certs[0] if certs else None


def check(
    snapshot: Snapshot,
    *,
    served: x509.Certificate | None,
    client_trust: Sequence[x509.Certificate] | rotation.ClientTrust,
    name: str,
    needs_client_auth: bool,
    client_cert: x509.Certificate | None = None,
    client_intermediates: Sequence[x509.Certificate] = (),
    client_key: pki.PrivateKey | None = None,
    ca_path: str = "",
) -> list[CheckResult]:
    """Every check of the set; the set may be loaded only when none failed (a warning is loaded, and
    reported: what strict clients would refuse while Redis and OpenSSL accept it).

    ``client_cert``/``client_intermediates``/``client_key``: the watcher's own identity, the
    intermediates it presents and its key (with it, whether Redis accepts the identity is asked of
    OpenSSL itself when strict X.509 refuses it). ``ca_path``: the server's tls-ca-cert-file, named
    in the fixes.
    The certificate file is judged as the server will present it: its leaf and the intermediates that
    follow (a step or Vault renewal), against ``client_trust``, the anchors the clients really have.
    """
    trust = (
        client_trust if isinstance(client_trust, rotation.ClientTrust) else rotation.ClientTrust(client_trust)
    )
    client_trust = list(trust.certs)
    chain = parse_certs(snapshot.data.get("cert", b""))[1:]
    cert, key = leaf_of(snapshot), parse_key(snapshot.data.get("key", b""))
    if cert is None:
        return [_fail("cert", "the certificate file holds no PEM certificate", "write the whole PEM file")]
    out: list[CheckResult] = []
    if key is None:
        out.append(
            _fail(
                "key",
                "the key file holds no unencrypted PEM private key",
                "write the key that was issued with the certificate (unencrypted PEM)",
            )
        )
    server_trust = parse_certs(snapshot.data["ca"]) if "ca" in snapshot.data else list(client_trust)
    if "ca" in snapshot.data and not server_trust:
        out.append(_fail("ca", "tls-ca-cert-file holds no PEM certificate", "write the CA bundle in PEM"))
    link = "client_cert" in snapshot.data
    out += rotation.preflight_leaf(
        "",
        cert,
        key,
        purpose="server",
        client_trust=trust,
        server_trust=server_trust or client_trust,
        names=[name],
        old=served,
        needs_client_auth=needs_client_auth and not link,
        intermediates=chain,
    )
    if link:
        link_cert = leaf_of(snapshot, "client_cert")
        if link_cert is None:
            out.append(_fail("link-cert", "tls-client-cert-file holds no PEM certificate", "write it whole"))
        else:
            out += rotation.preflight_leaf(
                "link-",
                link_cert,
                parse_key(snapshot.data.get("client_key", b"")),
                purpose="client",
                client_trust=trust,
                server_trust=server_trust or client_trust,
                intermediates=parse_certs(snapshot.data.get("client_cert", b""))[1:],
            )
    if client_cert is not None and server_trust:
        out.append(
            rotation.client_chain_check(
                "ca-accepts-clients",
                client_cert,
                client_key,
                client_intermediates,
                server_trust,
                "the CA file accepts the watcher's client",
                "keep the clients' CA in tls-ca-cert-file",
                ca_path,
            )
        )
    return out


def _fail(check_id: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(check_id, "fail", detail, fix)
