"""A live TLS audit of one Redis endpoint, from the client side -> ``list[CheckResult]``.

Stable check ids (documented in the README; the CLI, the notebook and Prometheus use them):

``tls-handshake``  ``redis-ping``  ``protocol-floor``  ``tls13-supported``  ``weak-ciphers-refused``
``client-cert-required``  ``plaintext-refused``  ``hostname-verified``  ``chain-strict``
``cert-expiry``  ``key-strength``

Each check owns exactly one concern, so one misconfiguration fails one check: the trust
handshake ignores the certificate's dates and name (``cert-expiry`` and ``hostname-verified`` own
those) and runs at OpenSSL security level 0 (``key-strength`` owns key sizes); the strict chain
check verifies at a moment inside the validity window. Probes for TLS 1.0/1.1 also run at
security level 0, because OpenSSL 3's default level refuses them on the *client* side and would
make a server that accepts them look correct. A probe counts as refused only when the server
answers with the ``protocol_version`` alert: a server that got past version negotiation and failed
later (for example because its own security level has no usable cipher) has the old protocol
enabled. Weak TLS 1.2 cipher suites are enumerated with sslyze (one handshake per suite, in
parallel with the other probes): NULL/anonymous/EXPORT/RC4/(3)DES fail, CBC-mode and
non-forward-secret suites warn (fail with ``strict_ciphers``). Side effects: network connections to the target only.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from runbook import files as _files
from runbook.client import TlsClientFiles
from runbook.errors import RunbookError
from runbook.pki import cert_info, load_certs
from runbook.results import CheckResult, all_ok

CHECK_IDS: tuple[str, ...] = (
    "tls-handshake",
    "redis-ping",
    "protocol-floor",
    "tls13-supported",
    "weak-ciphers-refused",
    "client-cert-required",
    "plaintext-refused",
    "hostname-verified",
    "chain-strict",
    "cert-expiry",
    "key-strength",
)
WRONG_NAME = "wrong-name.invalid"
_NO_CHECK_TIME = 0x200000  # X509_V_FLAG_NO_CHECK_TIME: dates are cert-expiry's concern
_LENIENT_CIPHERS = "DEFAULT:@SECLEVEL=0"
_WEAK_MARKERS = ("NULL", "EXPORT", "RC4", "RC2", "DES", "IDEA", "MD5", "anon")
_CIPHER_FIX = (
    'remove them: tls-ciphers "ECDHE+AESGCM:ECDHE+CHACHA20" (never add @SECLEVEL=0, NULL, aNULL, RC4, '
    "3DES or EXPORT)"
)


# --------------------------------------------------------------------------- result types


@dataclass
class AuditReport:
    """The checks plus the evidence an auditor needs (never key material)."""

    target: str
    checks: list[CheckResult]
    evidence: dict[str, Any] = field(default_factory=dict)
    certificates: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all_ok(self.checks)

    def to_json(self) -> dict[str, Any]:
        """The CLI's ``--json`` shape: ``{"target", "ok", "checks": [{"id","status","detail","fix"}]}``."""
        return {"target": self.target, "ok": self.ok, "checks": [asdict(c) for c in self.checks]}

    def status(self, check_id: str) -> str:
        return next(c.status for c in self.checks if c.id == check_id)


@dataclass(frozen=True)
class _Probe:
    ok: bool
    error: str = ""
    protocol: str = ""
    cipher: str = ""
    chain: tuple[bytes, ...] = ()
    reply: bytes = b""


# --------------------------------------------------------------------------- low-level probes


def _context(
    files: TlsClientFiles | None,
    *,
    verify: bool = True,
    check_hostname: bool = False,
    strict: bool = False,
    client_cert: bool = True,
    version: ssl.TLSVersion | None = None,
    minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
) -> ssl.SSLContext:
    """A probe context: security level 0, dates ignored, other knobs explicit."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers(_LENIENT_CIPHERS)
    if version is not None:
        with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated: probing for them is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = version
            ctx.maximum_version = version
    else:
        ctx.minimum_version = minimum
    if verify and files is not None:
        ctx.load_verify_locations(files.ca)
        ctx.verify_flags = ssl.VerifyFlags(int(ctx.verify_flags) | _NO_CHECK_TIME)
        if strict:
            ctx.verify_flags |= ssl.VERIFY_X509_STRICT
        ctx.check_hostname = check_hostname
        ctx.hostname_checks_common_name = False  # RFC 6125: names live in subjectAltName only
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if client_cert and files is not None and files.cert:
        # an empty password callback: an encrypted key fails at once instead of prompting on the tty
        ctx.load_cert_chain(files.cert, files.key, password=lambda: b"")
    return ctx


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.replace(" (_ssl.c:", " (").split(" (", 1)[0] if "_ssl.c" in text else text


def _handshake(
    host: str,
    port: int,
    ctx: ssl.SSLContext,
    server_name: str | None,
    timeout: float,
    send: bytes = b"",
    settle: float = 0.0,
    lines: int = 1,
) -> _Probe:
    """Connect, handshake, optionally send ``send`` and read one reply. Never raises for TLS errors.

    ``settle`` waits that long for a post-handshake alert before sending: in TLS 1.3 a server that
    rejects the client's certificate says so only after the client's handshake completed, and
    sending at once races the alert against a TCP reset (the error would read "EOF").
    """
    sni = None if server_name is None or _is_ip(server_name) else server_name
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=server_name if ctx.check_hostname else sni) as tls,
        ):
            chain: tuple[bytes, ...] = ()
            getter = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
            if getter is not None:
                chain = tuple(c.public_bytes(ssl._ssl.ENCODING_DER) for c in (getter() or []))  # type: ignore[attr-defined]
            if not chain:
                leaf = tls.getpeercert(binary_form=True)
                chain = (leaf,) if leaf else ()
            cipher = tls.cipher()
            reply = b""
            if send:
                if settle:
                    tls.settimeout(settle)
                    try:
                        early = tls.recv(4096)
                    except TimeoutError:
                        early = b""
                    tls.settimeout(timeout)
                    if early:
                        return _Probe(
                            True, "", tls.version() or "", cipher[0] if cipher else "", chain, early
                        )
                tls.sendall(send)
                reply = _read_reply(tls, lines)
            return _Probe(True, "", tls.version() or "", cipher[0] if cipher else "", chain, reply)
    except (OSError, ValueError) as exc:
        return _Probe(False, _one_line(exc))


def _read_reply(sock: socket.socket, lines: int = 1) -> bytes:
    """Read until ``lines`` CRLF-terminated lines arrived (or the peer closed)."""
    data = b""
    while data.count(b"\r\n") < lines:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _plaintext_ping(host: str, port: int, timeout: float) -> tuple[str, str]:
    """("answered", reply) when a plaintext RESP PING gets a RESP reply; ("refused", why) otherwise."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            reply = _read_reply(s)
    except ConnectionRefusedError:
        return "refused", "connection refused"
    except TimeoutError:
        return "refused", "no RESP reply (timed out)"
    except OSError:
        return "refused", "no RESP reply"  # reset or closed: the TLS port dropped the plaintext bytes
    if reply[:1] in (b"+", b"-", b":", b"$", b"*"):
        return "answered", reply.decode(errors="replace").strip()
    return "refused", "no RESP reply"


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _resp(*args: str) -> bytes:
    out = f"*{len(args)}\r\n"
    for a in args:
        out += f"${len(a.encode())}\r\n{a}\r\n"
    return out.encode()


def _auth(username: str | None, password: str | None) -> bytes:
    """The RESP AUTH command to send first (empty without a password)."""
    if not password:
        return b""
    return _resp("AUTH", *([username] if username else []), password)


def _configured_plaintext_port(
    host: str, port: int, files: TlsClientFiles, server_name: str, timeout: float, auth: bytes = b""
) -> int | None:
    """``CONFIG GET port`` over mutual TLS (None when CONFIG is not allowed)."""
    command = auth + _resp("CONFIG", "GET", "port")
    probe = _handshake(host, port, _context(files), server_name, timeout, command, lines=5 + bool(auth))
    if not probe.ok:
        return None
    # [+OK] *2 $4 port $4 6379
    parts = probe.reply.decode(errors="replace").split("\r\n")[1 if auth else 0 :]
    try:
        return int(parts[4])
    except (IndexError, ValueError):
        return None


# --------------------------------------------------------------------------- sslyze cipher scan


def scan_tls12_ciphers(
    host: str, port: int, server_name: str, *, timeout: float = 5.0, workers: int = 16
) -> tuple[list[str], list[str]]:
    """Enumerate the TLS 1.2 cipher suites the server accepts, with sslyze. Returns (accepted, errors).

    One handshake per suite sslyze knows (about 160, legacy ones included through nassl's bundled
    OpenSSL), run in a thread pool. A suite counts as accepted when the server selects it in its
    ServerHello; a server that requests a client certificate for an anonymous suite has selected it
    too (sslyze reports that case as an error, so it is handled here).
    """
    from sslyze.errors import ConnectionToServerFailed
    from sslyze.plugins.openssl_cipher_suites._test_cipher_suite import (
        CipherSuiteAcceptedByServer,
        connect_with_cipher_suite,
    )
    from sslyze.plugins.openssl_cipher_suites.cipher_suites import CipherSuitesRepository
    from sslyze.server_connectivity import (
        ServerConnectivityInfo,
        TlsVersionEnum,
        check_connectivity_to_server,
    )
    from sslyze.server_setting import ServerNetworkConfiguration, ServerNetworkLocation

    ip = _reachable_ip(host, port, timeout)
    location = ServerNetworkLocation(server_name if not _is_ip(server_name) else host, port, ip_address=ip)
    network = ServerNetworkConfiguration(
        tls_server_name_indication=server_name, network_timeout=int(max(1, timeout))
    )
    try:
        probing = check_connectivity_to_server(location, network)
    except ConnectionToServerFailed as exc:
        return [], [f"sslyze could not connect: {exc.error_message}"]
    info = ServerConnectivityInfo(location, network, probing)
    suites = CipherSuitesRepository.get_all_cipher_suites(TlsVersionEnum.TLS_1_2)

    def one(suite: Any) -> tuple[str, str]:
        try:
            result = connect_with_cipher_suite(info, TlsVersionEnum.TLS_1_2, suite)
        except Exception as exc:  # sslyze/nassl raise many types; classify by message
            message = str(exc)
            if "cert req with anon cipher" in message:
                return "accepted", suite.name
            if "not supported by nassl" in message or "no cipher" in message.lower():
                return "untestable", suite.name
            return "error", f"{suite.name}: {' '.join(message.split())[:120]}"
        return ("accepted" if isinstance(result, CipherSuiteAcceptedByServer) else "rejected"), suite.name

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(one, suites))
    accepted = sorted(name for kind, name in outcomes if kind == "accepted")
    errors = [name for kind, name in outcomes if kind == "error"]
    return accepted, errors


def _reachable_ip(host: str, port: int, timeout: float) -> str:
    """The first address of ``host`` that accepts a TCP connection on ``port`` (localhost may be ::1 or 127.0.0.1)."""
    if _is_ip(host):
        return host.strip("[]")
    addresses = [str(a[4][0]) for a in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    for address in addresses:
        try:
            socket.create_connection((address, port), timeout=timeout).close()
            return address
        except OSError:
            continue
    return addresses[0]


def is_legacy_cipher(name: str) -> bool:
    """True for suites a strict policy (Mozilla "intermediate") drops: CBC mode or no forward secrecy."""
    return "_CBC_" in name or not name.startswith(("TLS_ECDHE_", "TLS_DHE_"))


def is_weak_cipher(name: str) -> bool:
    """True for suites that give no or broken protection: NULL, anonymous, EXPORT, RC4, (3)DES, MD5, ...

    CBC and non-forward-secret suites are not counted (see :func:`is_legacy_cipher`: a warning,
    a failure under ``strict_ciphers``): OpenSSL's default list still includes them.
    """
    return any(marker in name for marker in _WEAK_MARKERS)


# --------------------------------------------------------------------------- the audit


def _certs(chain: Sequence[bytes]) -> list[x509.Certificate]:
    return [x509.load_der_x509_certificate(der) for der in chain]


def _fetch_chain(host: str, port: int, files: TlsClientFiles, server_name: str, timeout: float) -> _Probe:
    """The presented chain without any verification (for certificate facts when trust fails)."""
    return _handshake(host, port, _context(files, verify=False), server_name, timeout)


def _key_ok(public_key: object) -> tuple[bool, str]:
    if isinstance(public_key, rsa.RSAPublicKey):
        return public_key.key_size >= 2048, f"RSA {public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return public_key.curve.key_size >= 256, f"EC {public_key.curve.name}"
    if isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return True, type(public_key).__name__.replace("PublicKey", "")
    if isinstance(public_key, dsa.DSAPublicKey):
        return False, f"DSA {public_key.key_size}"
    return False, type(public_key).__name__


def _names(cert: x509.Certificate) -> list[str]:
    return cert_info(cert).sans


def _matches(cert: x509.Certificate, name: str) -> bool:
    """True when ``name`` is in the certificate's SAN (exact, or one-label wildcard)."""
    name = name.strip("[]").lower().rstrip(".")
    for san in _names(cert):
        kind, _, value = san.partition(":")
        if kind == "IP" and _is_ip(name) and ipaddress.ip_address(value) == ipaddress.ip_address(name):
            return True
        if kind == "DNS" and not _is_ip(name):
            value = value.lower()
            if value == name:
                return True
            if value.startswith("*.") and "." in name and name.split(".", 1)[1] == value[2:]:
                return True
    return False


def _strict_chain_problem(
    chain: list[x509.Certificate], cas: list[x509.Certificate], name: str
) -> str | None:
    """None when the chain verifies under cryptography's strict RFC 5280 profile, else why not.

    Verified at a moment inside every certificate's validity (dates are cert-expiry's concern)
    for ``name`` (a name the certificate claims; hostname-verified owns the name). Key-size
    complaints are left to key-strength.
    """
    from cryptography.x509 import DNSName, IPAddress
    from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

    start = max(c.not_valid_before_utc for c in [*chain, *cas])
    end = min(c.not_valid_after_utc for c in [*chain, *cas])
    now = dt.datetime.now(dt.UTC)
    at = now if start <= now <= end else (start + dt.timedelta(seconds=1) if start < end else now)
    subject: x509.verification.Subject = (
        IPAddress(ipaddress.ip_address(name.strip("[]"))) if _is_ip(name) else DNSName(name)
    )
    try:
        verifier = PolicyBuilder().store(Store(cas)).time(at).build_server_verifier(subject)
        verifier.verify(chain[0], chain[1:])
    except VerificationError as exc:
        message = " ".join(str(exc).split())
        low = message.lower()
        if "key" in low and ("too small" in low or "size" in low):
            return None  # key-strength owns key sizes
        if "subjectaltname" in low:
            return None  # a missing or non-matching SAN is hostname-verified's concern
        if "validation time" in low:
            return None  # no common moment inside every validity window: cert-expiry owns dates
        return message
    except ValueError as exc:
        return " ".join(str(exc).split())
    return None


def run_audit(
    host: str,
    port: int,
    files: TlsClientFiles,
    *,
    server_name: str | None = None,
    plaintext_port: int | None = None,
    warn_days: int = 30,
    timeout: float = 3.0,
    scan_ciphers: bool = True,
    strict_ciphers: bool = False,
    username: str | None = None,
    password: str | None = None,
) -> AuditReport:
    """Audit the TLS endpoint ``host:port`` with ``files`` (CA, client cert/key). Touches the network only.

    Returns every check of :data:`CHECK_IDS`, in that order, plus evidence for summaries.
    CBC-mode and non-forward-secret TLS 1.2 suites (which OpenSSL's default list, and so a server
    without ``tls-ciphers``, still accepts; the Mozilla "intermediate" baseline has neither) make
    ``weak-ciphers-refused`` a ``warn``, a ``fail`` with ``strict_ciphers``. ``username``/``password``
    authenticate PING and CONFIG GET on servers with ``requirepass`` or ACL users (never logged).
    """
    started = time.perf_counter()
    for label, path in (("--ca", files.ca), ("--cert", files.cert), ("--key", files.key)):
        if path is not None and not Path(path).is_file():
            raise RunbookError(f"{label} file {path} not found: give an existing PEM file")
    if bool(files.cert) != bool(files.key):
        raise RunbookError("give --cert and --key together (the client certificate and its key)")
    if not 0 < port < 65536:
        raise RunbookError(f"port {port} is out of range: give the server's tls-port")
    cas = load_certs(Path(files.ca))
    try:
        ctx = _context(files)
    except ssl.SSLError as exc:
        raise RunbookError(
            f"cannot load the client certificate/key ({_one_line(exc)}): give a matching, unencrypted pair"
        ) from None
    name = server_name or host
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    results: dict[str, CheckResult] = {}
    evidence: dict[str, Any] = {"target": target}

    def add(check_id: str, status: str, detail: str, fix: str = "") -> None:
        results[check_id] = CheckResult(check_id, status, detail, fix)  # type: ignore[arg-type]

    pool = ThreadPoolExecutor(max_workers=1)
    cipher_scan: Future[tuple[list[str], list[str]]] | None = None
    if scan_ciphers:
        cipher_scan = pool.submit(scan_tls12_ciphers, host, port, name, timeout=timeout)
    try:
        auth = _auth(username, password)
        base = _handshake(host, port, ctx, name, timeout, auth + b"PING\r\n", lines=1 + bool(auth))
        chain_probe = base if base.ok else _fetch_chain(host, port, files, name, timeout)
        chain = _certs(chain_probe.chain) if chain_probe.ok else []

        # tls-handshake / redis-ping ------------------------------------------------------
        if base.ok:
            add("tls-handshake", "pass", f"{base.protocol} {base.cipher}, trusted by {Path(files.ca).name}")
            reply = (base.reply.decode(errors="replace").strip().splitlines() or [""])[-1]
            if auth and not base.reply.startswith(b"+OK"):
                reply = base.reply.decode(errors="replace").strip().splitlines()[0]
            if reply == "+PONG":
                add("redis-ping", "pass", "PING answered PONG over TLS")
            else:
                add(
                    "redis-ping",
                    "fail",
                    f"PING answered {reply or 'nothing'}",
                    "give --user/--password-env for a server with requirepass or ACLs, or read the server log",
                )
        else:
            add("tls-handshake", "fail", base.error, _handshake_fix(base.error, chain_probe.ok))
            add("redis-ping", "skip", "no TLS connection")
        if not chain_probe.ok:
            for cid in CHECK_IDS[2:]:
                if cid not in ("plaintext-refused",):
                    add(cid, "skip", "no TLS handshake at all: see tls-handshake")

        # protocol-floor --------------------------------------------------------------------
        if chain_probe.ok:
            accepted, refused = [], []
            for label, version in (("TLSv1", ssl.TLSVersion.TLSv1), ("TLSv1.1", ssl.TLSVersion.TLSv1_1)):
                probe = _handshake(host, port, _context(files, verify=False, version=version), name, timeout)
                if probe.ok:
                    accepted.append(f"{label} (handshake completed)")
                elif "PROTOCOL_VERSION" in probe.error.upper() or "protocol version" in probe.error:
                    refused.append(label)
                elif "NO_PROTOCOLS_AVAILABLE" in probe.error.upper():
                    refused.append(f"{label} (not testable here)")
                else:
                    accepted.append(f"{label} (version accepted, then: {probe.error})")
            evidence["protocols_refused"] = [p.split(" ")[0] for p in refused]
            evidence["protocols_accepted"] = [p.split(" ")[0] for p in accepted]
            if accepted:
                add(
                    "protocol-floor",
                    "fail",
                    "server did not refuse " + "; ".join(accepted),
                    'set tls-protocols "TLSv1.2 TLSv1.3" and restart or CONFIG SET tls-protocols',
                )
            else:
                add("protocol-floor", "pass", f"{' and '.join(refused)} refused with protocol_version")

            # tls13-supported -------------------------------------------------------------
            t13 = _handshake(
                host, port, _context(files, verify=False, version=ssl.TLSVersion.TLSv1_3), name, timeout
            )
            if t13.ok:
                evidence["protocols_accepted"].append("TLSv1.3")
                add("tls13-supported", "pass", f"TLSv1.3 handshake with {t13.cipher}")
            else:
                evidence["protocols_refused"].append("TLSv1.3")
                add(
                    "tls13-supported",
                    "fail",
                    f"TLSv1.3 refused: {t13.error}",
                    'set tls-protocols "TLSv1.2 TLSv1.3" (OpenSSL >= 1.1.1)',
                )
            t12 = _handshake(
                host, port, _context(files, verify=False, version=ssl.TLSVersion.TLSv1_2), name, timeout
            )
            evidence["protocols_accepted" if t12.ok else "protocols_refused"].append("TLSv1.2")

            # client-cert-required --------------------------------------------------------
            anon = _handshake(
                host,
                port,
                _context(files, verify=False, client_cert=False),
                name,
                timeout,
                b"PING\r\n",
                settle=1.0,
            )
            evidence["mutual_tls_enforced"] = not (anon.ok and anon.reply)
            if anon.ok and anon.reply:
                add(
                    "client-cert-required",
                    "fail",
                    f"a client without a certificate got {anon.reply.decode(errors='replace').strip()}",
                    "set tls-auth-clients yes",
                )
            else:
                why = anon.error or "connection closed before a reply"
                add("client-cert-required", "pass", f"a client without a certificate was refused: {why}")

            # hostname-verified -----------------------------------------------------------
            _hostname_check(add, host, port, files, name, timeout, chain, base.ok)

            # chain-strict ----------------------------------------------------------------
            if not base.ok:
                add("chain-strict", "skip", "the chain does not verify at all: see tls-handshake")
            else:
                claimed = name if _matches(chain[0], name) else _first_name(chain[0]) or name
                problem = _strict_chain_problem(chain, cas, claimed)
                strict = _handshake(host, port, _context(files, strict=True), name, timeout)
                if problem is None and strict.ok:
                    add("chain-strict", "pass", f"{len(chain)} presented, verifies with VERIFY_X509_STRICT")
                else:
                    add(
                        "chain-strict",
                        "fail",
                        problem or f"OpenSSL X509_STRICT: {strict.error}",
                        "re-issue with the strict profile: CA keyUsage/basicConstraints critical, SKI/AKI "
                        "(notebook 01)",
                    )

            # cert-expiry / key-strength --------------------------------------------------
            client_certs: list[tuple[str, x509.Certificate]] = []
            if files.cert:
                client_certs = [("client", load_certs(Path(files.cert))[0])]
            _expiry_check(add, [("server", chain[0]), *client_certs], warn_days)
            _key_check(add, [("server", chain[0])] + [("chain", c) for c in chain[1:]] + client_certs)
            evidence["certificates"] = [
                {
                    "role": role,
                    "subject": c.subject.rfc4514_string(),
                    "serial": format(c.serial_number, "X"),
                    "not_after": c.not_valid_after_utc.isoformat(),
                    "sans": _names(c),
                }
                for role, c in [("server", chain[0]), *client_certs]
            ]

        # plaintext-refused -------------------------------------------------------------------
        _plaintext_check(add, evidence, host, port, files, name, timeout, plaintext_port, base.ok, auth)

        # weak-ciphers-refused ----------------------------------------------------------------
        if chain_probe.ok:
            if cipher_scan is None:
                add("weak-ciphers-refused", "skip", "cipher scan not requested")
            else:
                try:
                    accepted_suites, errors = cipher_scan.result()
                except Exception as exc:  # sslyze/nassl failures must not hide the other checks
                    accepted_suites, errors = [], [f"sslyze failed: {_one_line(exc)}"]
                evidence["ciphers_accepted"] = accepted_suites
                weak = [c for c in accepted_suites if is_weak_cipher(c)]
                legacy = [c for c in accepted_suites if is_legacy_cipher(c) and c not in weak]
                if weak or (legacy and strict_ciphers):
                    shown = weak + legacy if strict_ciphers else weak
                    add(
                        "weak-ciphers-refused",
                        "fail",
                        f"weak TLS 1.2 suites accepted: {', '.join(shown)}",
                        _CIPHER_FIX,
                    )
                elif errors and not accepted_suites:
                    add("weak-ciphers-refused", "warn", f"sslyze scan incomplete: {errors[0]}", "re-run")
                elif legacy:
                    add(
                        "weak-ciphers-refused",
                        "warn",
                        f"{len(legacy)} CBC-mode or non-forward-secret TLS 1.2 suites accepted (the Mozilla "
                        f"intermediate baseline has none): {', '.join(legacy)}",
                        _CIPHER_FIX + "; --strict-ciphers fails them",
                    )
                else:
                    detail = f"{len(accepted_suites)} TLS 1.2 suites accepted, none weak (sslyze)"
                    if errors:
                        detail += f"; {len(errors)} suites could not be tested ({errors[0]})"
                    if not accepted_suites:
                        detail = "no TLS 1.2 suite accepted (TLS 1.2 is off), none weak (sslyze)"
                    add("weak-ciphers-refused", "pass", detail)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    ordered = [results[c] for c in CHECK_IDS]
    return AuditReport(
        target=target,
        checks=ordered,
        evidence=evidence,
        certificates=evidence.get("certificates", []),
        seconds=time.perf_counter() - started,
    )


def audit(
    host: str,
    port: int,
    files: TlsClientFiles,
    *,
    server_name: str | None = None,
    plaintext_port: int | None = None,
    warn_days: int = 30,
    timeout: float = 3.0,
    scan_ciphers: bool = True,
    strict_ciphers: bool = False,
    username: str | None = None,
    password: str | None = None,
) -> list[CheckResult]:
    """The audit's checks only (see :func:`run_audit` for the evidence as well)."""
    return run_audit(
        host,
        port,
        files,
        server_name=server_name,
        plaintext_port=plaintext_port,
        warn_days=warn_days,
        timeout=timeout,
        scan_ciphers=scan_ciphers,
        strict_ciphers=strict_ciphers,
        username=username,
        password=password,
    ).checks


# --------------------------------------------------------------------------- check helpers

_Add = Callable[..., None]


def _handshake_fix(error: str, reachable_tls: bool) -> str:
    low = error.lower()
    if "refused" in low:
        return "nothing listens there: start redis-server or give its tls-port"
    if "wrong version number" in low or "record layer failure" in low or (not reachable_tls and "eof" in low):
        return "this port does not speak TLS: give the tls-port, not the plaintext port"
    if "unknown ca" in low or "certificate required" in low or "bad certificate" in low:
        return "the server does not accept this client certificate: issue it from tls-ca-cert-file's CA"
    if "certificate verify failed" in low:
        return "the server certificate is not issued by --ca: give the right CA or re-issue (notebook 01)"
    if "timed out" in low:
        return "no answer: check host, port and firewall"
    return "read the server log (notebook 02) and the message above"


def _first_name(cert: x509.Certificate) -> str | None:
    for san in _names(cert):
        kind, _, value = san.partition(":")
        if kind in ("DNS", "IP") and not value.startswith("*"):
            return value
    return None


def _hostname_check(
    add: _Add,
    host: str,
    port: int,
    files: TlsClientFiles,
    name: str,
    timeout: float,
    chain: list[x509.Certificate],
    trusted: bool,
) -> None:
    if not trusted:
        add("hostname-verified", "skip", "the chain does not verify: see tls-handshake")
        return
    names = ", ".join(_names(chain[0])) or "no subjectAltName (the CN is not a name clients check)"
    right = _handshake(host, port, _context(files, check_hostname=True), name, timeout)
    wrong = _handshake(host, port, _context(files, check_hostname=True), WRONG_NAME, timeout)
    if not right.ok:
        add(
            "hostname-verified",
            "fail",
            f"certificate names {names} do not match {name}: {right.error}",
            f"re-issue the server certificate with --hostname {name} (notebook 01), or connect by a listed name",
        )
    elif wrong.ok:
        add(
            "hostname-verified",
            "fail",
            f"a wrong name ({WRONG_NAME}) was accepted: certificate names {names}",
            "re-issue the server certificate without wildcard-everything names",
        )
    else:
        add("hostname-verified", "pass", f"{name} matches ({names}); {WRONG_NAME} is rejected")


def _expiry_check(add: _Add, certs: list[tuple[str, x509.Certificate]], warn_days: int) -> None:
    now = dt.datetime.now(dt.UTC)
    parts, worst = [], "pass"
    for role, cert in certs:
        left = (cert.not_valid_after_utc - now).days
        if cert.not_valid_after_utc <= now:
            parts.append(f"{role} expired {cert.not_valid_after_utc:%Y-%m-%d}")
            worst = "fail"
        elif cert.not_valid_before_utc > now:
            parts.append(f"{role} not valid before {cert.not_valid_before_utc:%Y-%m-%d}")
            worst = "fail"
        elif left < warn_days:
            parts.append(f"{role} expires in {left} days")
            worst = "warn" if worst == "pass" else worst
        else:
            parts.append(f"{role} {left} days left")
    fix = {"pass": "", "warn": "rotate soon (notebook 05)", "fail": "rotate now (notebook 05)"}[worst]
    add("cert-expiry", worst, f"{'; '.join(parts)} (warn below {warn_days})", fix)


def _key_check(add: _Add, certs: list[tuple[str, x509.Certificate]]) -> None:
    parts, weak = [], []
    for role, cert in certs:
        ok, desc = _key_ok(cert.public_key())
        parts.append(f"{role} {desc}")
        if not ok:
            weak.append(f"{role} {desc}")
    if weak:
        add(
            "key-strength",
            "fail",
            f"weak keys: {', '.join(weak)}",
            "re-issue with --key-type ecdsa-p256 or rsa-2048+ (notebook 01)",
        )
    else:
        add("key-strength", "pass", ", ".join(parts))


def _plaintext_check(
    add: _Add,
    evidence: dict[str, Any],
    host: str,
    port: int,
    files: TlsClientFiles,
    name: str,
    timeout: float,
    plaintext_port: int | None,
    connected: bool,
    auth: bytes = b"",
) -> None:
    answered: list[str] = []
    refused: list[str] = []
    ports: list[tuple[int, str]] = [(port, "TLS port")]
    if plaintext_port:
        ports.append((plaintext_port, "--plaintext-port"))
    configured = _configured_plaintext_port(host, port, files, name, timeout, auth) if connected else None
    if configured and configured not in {p for p, _ in ports}:
        ports.append((configured, "CONFIG GET port"))
    for p, label in ports:
        kind, why = _plaintext_ping(host, p, timeout)
        (answered if kind == "answered" else refused).append(f"{p} ({label}): {why}")
    evidence["plaintext_refused"] = not answered
    if answered:
        add(
            "plaintext-refused",
            "fail",
            "plaintext PING answered on " + "; ".join(answered),
            "set port 0 so Redis speaks only TLS",
        )
    else:
        add("plaintext-refused", "pass", "plaintext PING refused on " + "; ".join(refused))


# --------------------------------------------------------------------------- Prometheus

STATUS_VALUE = {"pass": 0, "warn": 1, "fail": 2, "skip": -1}


def prometheus_registry(report: AuditReport) -> Any:
    """The audit as node_exporter textfile metrics (a prometheus_client registry)."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    check = Gauge(
        "redis_tls_check_status",
        "Result of one audit check: 0 pass, 1 warn, 2 fail, -1 skip",
        ["target", "check"],
        registry=registry,
    )
    for c in report.checks:
        check.labels(report.target, c.id).set(STATUS_VALUE[c.status])
    expiry = Gauge(
        "redis_tls_cert_expiry_timestamp_seconds",
        "notAfter of a certificate seen by the audit, as a Unix timestamp",
        ["target", "role", "subject", "serial"],
        registry=registry,
    )
    for cert in report.certificates:
        when = dt.datetime.fromisoformat(cert["not_after"]).timestamp()
        expiry.labels(report.target, cert["role"], cert["subject"], cert["serial"]).set(when)
    ok = Gauge("redis_tls_audit_ok", "1 when no audit check failed", ["target"], registry=registry)
    ok.labels(report.target).set(1 if report.ok else 0)
    last = Gauge(
        "redis_tls_audit_timestamp_seconds", "When the audit ran (Unix time)", ["target"], registry=registry
    )
    last.labels(report.target).set(time.time())
    took = Gauge("redis_tls_audit_duration_seconds", "How long the audit took", ["target"], registry=registry)
    took.labels(report.target).set(round(report.seconds, 3))
    return registry


def write_prometheus(report: AuditReport, path: Path | str) -> Path:
    """Write the textfile atomically (temp file + rename, mode 0644). Writes a file; idempotent."""
    from prometheus_client import generate_latest

    target = Path(path)
    if not target.parent.is_dir():
        raise RunbookError(
            f"directory {target.parent} does not exist: create it or give another --prometheus"
        )
    _files.write_file(target, generate_latest(prometheus_registry(report)), _files.PUBLIC)
    return target


# --------------------------------------------------------------------------- for trainees


@dataclass(frozen=True)
class Refusal:
    """One deliberately wrong client attempt and what the server (or client) said."""

    attempt: str
    refused: bool
    error: str
    meaning: str


def explain_refusals(
    host: str, port: int, files: TlsClientFiles, server_name: str | None = None, timeout: float = 3.0
) -> list[Refusal]:
    """Three wrong clients, live: no client certificate, TLS 1.1 only, a wrong server name.

    Each should be refused; ``error`` is the real OpenSSL message a trainee will meet in logs.
    """
    name = server_name or host
    no_cert = _handshake(host, port, _context(files, client_cert=False), name, timeout, b"PING\r\n", 1.0)
    tls11 = _handshake(host, port, _context(files, version=ssl.TLSVersion.TLSv1_1), name, timeout)
    wrong = _handshake(host, port, _context(files, check_hostname=True), WRONG_NAME, timeout)
    return [
        Refusal(
            "client without a certificate",
            not (no_cert.ok and no_cert.reply),
            no_cert.error or "connection closed",
            "tls-auth-clients yes: the server demands a certificate signed by its tls-ca-cert-file",
        ),
        Refusal(
            "client limited to TLS 1.1",
            not tls11.ok,
            tls11.error,
            'tls-protocols "TLSv1.2 TLSv1.3": the server answers the protocol_version alert',
        ),
        Refusal(
            f"client expecting {WRONG_NAME}",
            not wrong.ok,
            wrong.error,
            "the certificate's subjectAltName does not list that name: the client refuses the server",
        ),
    ]
