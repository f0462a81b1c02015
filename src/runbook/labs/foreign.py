"""Labs for deployments the runbook did not build (issue 17's foreign-PKI causes).

Each lab serves certificates made the way another tool makes them (:mod:`runbook.pki.foreign`) and an
application that verifies strictly (Python 3.13's default context) or trusts only a root. Redis and
redis-cli accept these deployments, so the fix must keep them working for every client: the proofs
below refuse a fix that works for the application alone (a CA replaced instead of re-signed, the
intermediate added to the application's trust instead of served).

Files of each lab's deployment live in ``<lab>/tls/`` (the guide CA) or ``<lab>/step/`` (a root ->
intermediate PKI, laid out as step-ca does); the lab PKI in ``<lab>/pki/`` stays the operator's own.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from runbook import drills, files, pki
from runbook.client import Endpoint, TlsClientFiles, probe, tls_context
from runbook.errors import RunbookError
from runbook.labs.model import Debrief, Lab
from runbook.labs.state import (
    ClientSettings,
    LabState,
    read_client,
    restart_nodes,
    set_directives,
    write_client,
)
from runbook.results import CheckResult

_LOCAL_SANS: list[x509.GeneralName] = [
    x509.DNSName("localhost"),
    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    x509.IPAddress(ipaddress.ip_address("::1")),
]
_REJECTED = r"certificate verify failed|CERTIFICATE_VERIFY_FAILED"


def _write(path: Path, issued: pki.Issued, *extra: x509.Certificate) -> Path:
    """``path`` (.crt: the certificate, then ``extra``) and its .key (0600). Writes files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = path.with_suffix(".key")
    chain = b"".join(c.public_bytes(Encoding.PEM) for c in extra)
    files.write_all(
        [
            files.PlannedWrite(path, issued.cert_pem() + chain, files.PUBLIC),
            files.PlannedWrite(key, issued.key_pem(), files.PRIVATE),
        ]
    )
    return path


def _serve(env: drills.DrillEnv, crt: Path, ca: Path, client: TlsClientFiles) -> drills.Setup:
    node = env.start(
        "server",
        tls_cert_file=str(crt),
        tls_key_file=str(crt.with_suffix(".key")),
        tls_ca_cert_file=str(ca),
    )
    return drills.Setup(node.endpoint, {"ca": client.ca, "cert": client.cert, "key": client.key})


# --------------------------------------------------------------------------- builders


def _guide_ca(env: drills.DrillEnv) -> drills.Setup:
    """A CA made with a guide's ``openssl req -x509`` lines (no keyUsage), its server and client."""
    tls = env.root / "tls"
    ca = pki.guide_ca("Redis CA")
    _write(tls / "ca.crt", ca)
    server = _write(tls / "redis.crt", pki.guide_leaf(ca, "localhost", sans=_LOCAL_SANS))
    client = _write(tls / "client.crt", pki.guide_leaf(ca, "payments", purpose="client"))
    return _serve(env, server, tls / "ca.crt", _files(tls / "ca.crt", client))


def _cn_only(env: drills.DrillEnv) -> drills.Setup:
    crt = _write(env.root / "tls" / "redis.crt", pki.cn_only_leaf(env.ca, "localhost"))
    return _serve(env, crt, env.paths.ca_cert, TlsClientFiles.from_pki(env.paths.root))


def _no_aki(env: drills.DrillEnv) -> drills.Setup:
    crt = _write(env.root / "tls" / "redis.crt", pki.leaf_without_aki(env.ca, "localhost", _LOCAL_SANS))
    return _serve(env, crt, env.paths.ca_cert, TlsClientFiles.from_pki(env.paths.root))


def _step_leaf_only(env: drills.DrillEnv) -> drills.Setup:
    """root -> intermediate as step-ca lays it out; the hand-renewed server file holds the leaf only."""
    step = env.root / "step"
    root = pki.root_ca("Company Root CA")
    inter = pki.intermediate_ca(root, "Company Intermediate CA")
    (step / "certs").mkdir(parents=True)
    files.write_file(step / "certs" / "root_ca.crt", root.cert_pem())
    files.write_file(step / "certs" / "intermediate_ca.crt", inter.cert_pem())
    names = {"hostnames": ["localhost"], "ips": ["127.0.0.1", "::1"]}
    server = _write(step / "redis.crt", pki.make_leaf(inter, "localhost", purpose="server", **names))  # type: ignore[arg-type]
    app = pki.make_leaf(inter, "orders", purpose="client", hostnames=["orders"])
    client = _write(step / "client.crt", app, inter.cert)  # leaf + intermediate, as `step ca certificate`
    return _serve(env, server, step / "certs" / "root_ca.crt", _files(step / "certs" / "root_ca.crt", client))


def _files(ca: Path, cert: Path) -> TlsClientFiles:
    return TlsClientFiles(str(ca), str(cert), str(cert.with_suffix(".key")))


# --------------------------------------------------------------------------- reference fixes


def _resign_ca(state: LabState) -> None:
    """`runbook pki resign-ca`, then the re-signed CA to the application and the server."""
    tls = Path(state.root) / "tls"
    new = tls / "ca-strict.crt"
    pki.resign_ca(tls / "ca.crt", tls / "ca.key", new)
    data = {**read_client(state).to_dict(), "ca": str(new)}
    write_client(state, ClientSettings.from_dict(data))
    set_directives(state, state.app, {"tls-ca-cert-file": str(new)})
    restart_nodes(state)


def _serve_pki_pair(state: LabState) -> None:
    paths = pki.PkiPaths(Path(state.pki_dir))
    set_directives(
        state, state.app, {"tls-cert-file": str(paths.server_cert), "tls-key-file": str(paths.server_key)}
    )
    restart_nodes(state)


def _serve_with_intermediate(state: LabState) -> None:
    step = Path(state.root) / "step"
    chain = step / "redis-chain.crt"
    files.write_file(
        chain, (step / "redis.crt").read_bytes() + (step / "certs" / "intermediate_ca.crt").read_bytes()
    )
    set_directives(state, state.app, {"tls-cert-file": str(chain), "tls-key-file": str(step / "redis.key")})
    restart_nodes(state)


# --------------------------------------------------------------------------- proofs


def _ping(state: LabState, files_: TlsClientFiles, mode: str) -> str:
    """'' when a ``mode`` client with ``files_`` verifies the application's server and PINGs, else why."""
    s = read_client(state)
    endpoint = Endpoint(s.endpoint.host, s.endpoint.port, s.endpoint.server_name, files_)
    try:
        ctx = tls_context(files_, mode="strict" if mode == "strict" else "compatible")
    except (OSError, ValueError) as exc:
        return probe.one_line(exc)
    got = probe.command(endpoint, "PING", ctx=ctx, timeout=2.0)
    return "" if got.ok and got.value == b"PONG" else got.error or "no PONG"


def strict_proof(state: LabState) -> list[CheckResult]:
    """A strict client (Python 3.13's default context) with the application's files verifies and PINGs."""
    why = _ping(state, read_client(state).endpoint.files, "strict")
    if not why:
        return [
            CheckResult("strict-client", "pass", "a strict client (Python 3.13's default context) verifies")
        ]
    return [CheckResult("strict-client", "fail", f"a strict client is still refused: {why}", "fix the cause")]


def _ca_kept(state: LabState) -> list[CheckResult]:
    """The application trusts the same CA key as before: re-signed, not replaced by a new CA."""
    old = pki.load_cert(Path(state.root) / "tls" / "ca.crt").public_key()
    ca = read_client(state).endpoint.files.ca
    try:
        trusted = [c.public_key() for c in pki.load_certs(Path(ca))]
    except RunbookError as exc:
        return [CheckResult("ca-kept", "fail", str(exc), "give client.json the CA file")]
    if old in trusted:
        found = CheckResult("ca-kept", "pass", "the same CA key: every certificate it issued stays valid")
    else:
        found = CheckResult(
            "ca-kept",
            "fail",
            "refused: the application trusts another CA key; every certificate the old CA issued "
            "(other services, replicas) would stop verifying",
            "keep the CA's key: fix the CA certificate the clients already trust",
        )
    return [*strict_proof(state), found]


def _root_only(state: LabState) -> list[CheckResult]:
    """Clients that trust only the company root (every other service) verify the server too."""
    step = Path(state.root) / "step"
    s = read_client(state).endpoint.files
    why = _ping(state, TlsClientFiles(str(step / "certs" / "root_ca.crt"), s.cert, s.key), "compatible")
    if not why:
        found = CheckResult(
            "root-only-clients", "pass", "a client trusting only the root verifies the server"
        )
    else:
        found = CheckResult(
            "root-only-clients",
            "fail",
            f"refused: a client trusting only the root (every other service) is still rejected: {why}",
            "fix it on the server, not in one application's trust",
        )
    return [*strict_proof(state), found]


FOREIGN_LABS: tuple[Lab, ...] = (
    Lab(
        "payments-upgrade",
        "Payments service fails TLS after its Python upgrade",
        "The payments team moved their service to Python 3.13 this week. Since then every connection to "
        "the cache fails with `certificate verify failed`. redis-cli with the same files still works, and "
        "nobody touched the CA file (tls/ca.crt; its key is tls/ca.key).",
        "ca-not-strict",
        _guide_ca,
        _resign_ca,
        (
            "The same CA works for redis-cli but not for Python 3.13: what does the newer client check?",
            "`runbook diagnose` with client.json's files; `openssl verify -x509_strict -CAfile tls/ca.crt "
            "tls/redis.crt`; `openssl x509 -noout -text -in tls/ca.crt` (its extensions).",
            "Keep the CA's key and re-sign its certificate under the strict profile (`runbook pki "
            "resign-ca --ca tls/ca.crt --ca-key tls/ca.key --out tls/ca-strict.crt`), then give the new "
            "file to client.json `ca` and the server's tls-ca-cert-file, and restart.",
        ),
        Debrief(
            "The CA was made with a guide's `openssl req -x509` lines: no keyUsage extension. OpenSSL and "
            "Redis accept it; Python 3.13's default context (VERIFY_X509_STRICT) refuses it.",
            "`CA cert does not include key usage extension` in the strict client's error; "
            "`openssl verify -x509_strict` fails while plain `openssl verify` passes.",
            "Issue CAs under the strict profile; `runbook adopt` reports what strict clients will refuse.",
        ),
        _REJECTED,
        _ca_kept,
        strict_client=True,
    ),
    Lab(
        "gateway-launch",
        "The new gateway rejects the cache's certificate",
        "The platform team's new gateway cannot connect to the cache: every handshake fails with "
        "`certificate verify failed`, saying the certificate is not valid for localhost. The PHP apps on "
        "the same host connect to localhost with the same CA without complaint.",
        "server-name-cn-only",
        _cn_only,
        _serve_pki_pair,
        (
            "Older clients accept the name, the gateway does not: where in the certificate is the name?",
            "`openssl s_client -connect localhost:PORT` then `openssl x509 -noout -subject -ext "
            "subjectAltName`; `runbook pki inspect` (the SANs column); `runbook diagnose`.",
            "Serve a certificate from the same CA with the name in subjectAltName (the lab PKI's "
            "redis-server.crt has it), then restart.",
        ),
        Debrief(
            "The server certificate carried its name only in the subject CN, no subjectAltName. "
            "OpenSSL-based clients fall back to the CN; strict clients (RFC 6125) do not.",
            "`Hostname mismatch` from a strict client while redis-cli connects; no SAN in `pki inspect`.",
            "Issue every server certificate with its names in subjectAltName; `runbook adopt` flags CN-only.",
        ),
        r"mismatch|not valid for",
        strict_proof,
        strict_client=True,
    ),
    Lab(
        "compliance-scan",
        "Compliance scanner rejects the cache's certificate chain",
        "The security team's new compliance job (Python 3.13) refuses the cache's TLS chain with "
        "`certificate verify failed`. redis-cli and the older services connect fine with the same CA, and "
        "the certificate is in date and names localhost.",
        "chain-not-strict",
        _no_aki,
        _serve_pki_pair,
        (
            "Names, dates and CA are right: which RFC 5280 detail of the served certificate is missing?",
            "`runbook diagnose`, `runbook adopt` with the lab files; `openssl verify -x509_strict` on the "
            "served certificate; `openssl x509 -noout -text` (its extensions).",
            "Serve a certificate issued under the strict profile by the same CA (the lab PKI's "
            "redis-server.crt), then restart.",
        ),
        Debrief(
            "The server certificate had no authorityKeyIdentifier (OpenSSL 1.1's `x509 -req -extfile` "
            "without it): strict clients refuse the chain, OpenSSL's default check does not.",
            "`Missing Authority Key Identifier` from a strict client; `openssl verify -x509_strict` fails.",
            "Issue under the strict profile (SKI/AKI on every certificate); verify with -x509_strict.",
        ),
        _REJECTED,
        strict_proof,
        strict_client=True,
    ),
    Lab(
        "renewal-by-hand",
        "Services fail TLS since the cache certificate was renewed by hand",
        "The cache's certificate comes from the company's step CA (step/). During last night's outage of "
        "the renewal timer someone renewed it by hand. Since then services fail the handshake with "
        "`certificate verify failed`. Their CA file (the company root) has not changed.",
        "missing-intermediate",
        _step_leaf_only,
        _serve_with_intermediate,
        (
            "The clients trust only the root: what must the server send so they can build the chain?",
            "`openssl s_client -showcerts` (how many certificates come back), `runbook diagnose`, "
            "`openssl x509 -noout -issuer` on step/redis.crt.",
            "Serve leaf + intermediate in tls-cert-file (`cat step/redis.crt "
            "step/certs/intermediate_ca.crt > step/redis-chain.crt`, point the config at it), restart.",
        ),
        Debrief(
            "The hand-made renewal wrote the leaf alone; clients trusting only the root cannot link it "
            "without the intermediate, which only the server can send.",
            "`unable to get local issuer certificate`; `s_client -showcerts` shows one certificate.",
            "Renew with `step ca renew` (writes leaf + intermediate); `runbook rotate` refuses a leaf-only chain.",
        ),
        r"local issuer|certificate verify failed",
        _root_only,
    ),
)
