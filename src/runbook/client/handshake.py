"""A real TLS handshake between Python's client and server stacks in memory, as strict as Python 3.13."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

from runbook.client.contexts import Mode, TlsClientFiles, server_context, tls_context
from runbook.client.probe import Handshake
from runbook.files import PRIVATE, PUBLIC, PlannedWrite, write_all
from runbook.pki import PkiPaths, make_ca
from runbook.results import CheckResult


def memory_handshake(
    server_cert: str,
    server_key: str,
    files: TlsClientFiles,
    hostname: str = "localhost",
    *,
    server_key_password: bytes | None = None,
    mode: Mode = "strict",
) -> Handshake:
    """A real TLS handshake between Python's client and server stacks in memory (no sockets).

    The server requires a client certificate; the client checks the hostname with
    ``VERIFY_X509_STRICT`` (Python 3.13's default), so a certificate that 3.13 would reject
    fails here (``mode="compatible"``: what Redis and OpenSSL accept). Raises ``ssl.SSLError`` / ``ssl.SSLCertVerificationError`` on failure.
    """
    server_ctx = server_context(server_cert, server_key, ca=files.ca, password=server_key_password, mode=mode)
    client_ctx = tls_context(files, mode=mode)
    client, server = _pump(client_ctx, server_ctx, hostname)
    cipher = client.cipher()
    return Handshake.of(
        client.version() or "",
        cipher[0] if cipher else "",
        client.getpeercert(binary_form=True),
        client_der=server.getpeercert(binary_form=True),
    )


def _pump(
    client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, hostname: str
) -> tuple[ssl.SSLObject, ssl.SSLObject]:
    """Run a handshake between the two contexts over memory BIOs; raise ``ssl.SSLError`` on failure."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for name, end, out_bio, peer_in in (("client", client, c_out, s_in), ("server", server, s_out, c_in)):
            if not done[name]:
                try:
                    end.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
            data = out_bio.read()
            if data:
                peer_in.write(data)
        if all(done.values()):
            break
    if not all(done.values()):
        raise ssl.SSLError("handshake did not complete")
    return client, server


def chain_refusal(chain_pem: bytes, key_pem: bytes, ca_file: str, hostname: str, *, mode: Mode) -> str:
    """Would a client trusting only ``ca_file`` (in ``mode``) accept a server presenting ``chain_pem``
    (leaf first, then the intermediates, exactly as the file will be served)? ``""`` when it would,
    else OpenSSL's reason in one line.

    A real in-memory handshake (Python's client and server stacks); the key is needed to complete it
    and is written, with the chain, to a private temporary directory (0700, the key 0600) removed
    before returning. Nothing else is written; nothing connects.
    """
    with tempfile.TemporaryDirectory(prefix="runbook-chain-") as tmp:
        cert_path, key_path = Path(tmp) / "chain.crt", Path(tmp) / "chain.key"
        write_all([PlannedWrite(cert_path, chain_pem, PUBLIC), PlannedWrite(key_path, key_pem, PRIVATE)])
        try:
            server_ctx = server_context(str(cert_path), str(key_path))
            client_ctx = tls_context(TlsClientFiles(ca_file), mode=mode, client_cert=False)
            _pump(client_ctx, server_ctx, hostname)
        except (OSError, ValueError) as exc:
            return " ".join(str(exc).split())
    return ""


def client_refusal(chain_pem: bytes, key_pem: bytes, ca_pem: bytes, *, mode: Mode) -> str:
    """Would a server trusting only ``ca_pem`` (as Redis with that ``tls-ca-cert-file``, in ``mode``)
    accept a client presenting ``chain_pem`` (leaf first, then its intermediates) with ``key_pem``?
    ``""`` when it would, else OpenSSL's reason in one line.

    A real in-memory handshake: the server side presents a throwaway certificate (the client does not
    verify it) and verifies the client as OpenSSL does for Redis (purpose ``sslclient``: an
    extendedKeyUsage or nsCertType, when present, must allow a client). The files live in a private
    temporary directory (0700, the key 0600) removed before returning; nothing connects.
    """
    throwaway = make_ca("ecdsa-p256", 1, "runbook client-acceptance probe")
    with tempfile.TemporaryDirectory(prefix="runbook-client-") as tmp:
        d = Path(tmp)
        write_all(
            [
                PlannedWrite(d / "client.crt", chain_pem, PUBLIC),
                PlannedWrite(d / "client.key", key_pem, PRIVATE),
                PlannedWrite(d / "ca.crt", ca_pem, PUBLIC),
                *throwaway.planned_writes(d / "server.crt", d / "server.key"),
            ]
        )
        try:
            server_ctx = server_context(
                str(d / "server.crt"), str(d / "server.key"), ca=str(d / "ca.crt"), mode=mode
            )
            client_ctx = tls_context(
                TlsClientFiles("", str(d / "client.crt"), str(d / "client.key")), mode="none"
            )
            _pump(client_ctx, server_ctx, "localhost")
        except (OSError, ValueError) as exc:
            return " ".join(str(exc).split())
    return ""


def handshake_checks(pki_dir: Path | str, hostname: str = "localhost") -> list[CheckResult]:
    """A strict in-memory mutual-TLS handshake for every client of the PKI, as check results."""
    paths = PkiPaths(Path(pki_dir))
    results = []
    for name in paths.client_names():
        check = f"strict-handshake:{name}"
        try:
            hs = memory_handshake(
                str(paths.server_cert),
                str(paths.server_key),
                TlsClientFiles.from_pki(paths.root, name),
                hostname,
            )
            results.append(
                CheckResult(check, "pass", f"{hs.protocol} to {hostname}, server {hs.server_subject}")
            )
        except (OSError, ValueError) as exc:
            results.append(
                CheckResult(check, "fail", " ".join(str(exc).split()), "re-issue with overwrite=True")
            )
    return results
