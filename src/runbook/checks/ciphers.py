"""TLS 1.2 cipher suites: the sslyze scan, how suites are classified, and ``weak-ciphers-refused``.

NULL, anonymous, EXPORT, RC4, (3)DES, MD5, IDEA and RC2 suites fail the check. CBC-mode and
non-forward-secret suites (OpenSSL's default list, so a server without ``tls-ciphers``, accepts
them; the Mozilla "intermediate" baseline has neither) are a warning, a failure with
``strict_ciphers``. Side effects: network connections to the target only (sslyze handshakes).
"""

from __future__ import annotations

import socket
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from runbook.checks.verdicts import Add
from runbook.client import Endpoint
from runbook.client.probe import is_ip, one_line

_WEAK_MARKERS = ("NULL", "EXPORT", "RC4", "RC2", "DES", "IDEA", "MD5", "anon")
_CIPHER_FIX = (
    'remove them: tls-ciphers "ECDHE+AESGCM:ECDHE+CHACHA20" (never add @SECLEVEL=0, NULL, aNULL, RC4, '
    "3DES or EXPORT)"
)

CipherScan = Future[tuple[list[str], list[str]]]


def scan_tls12_ciphers(
    endpoint: Endpoint, *, timeout: float = 5.0, workers: int = 16
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

    host, port, server_name = endpoint.host, endpoint.port, endpoint.hostname
    ip = _reachable_ip(host, port, timeout)
    location = ServerNetworkLocation(server_name if not is_ip(server_name) else host, port, ip_address=ip)
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
    if is_ip(host):
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


def cipher_check(add: Add, evidence: dict[str, Any], scan: CipherScan | None, strict: bool) -> None:
    """``weak-ciphers-refused`` from the scan's outcome (``None``: no scan was requested)."""
    if scan is None:
        add("weak-ciphers-refused", "skip", "cipher scan not requested")
        return
    try:
        accepted, errors = scan.result()
    except Exception as exc:  # sslyze/nassl failures must not hide the other checks
        accepted, errors = [], [f"sslyze failed: {one_line(exc)}"]
    evidence["ciphers_accepted"] = accepted
    weak = [c for c in accepted if is_weak_cipher(c)]
    legacy = [c for c in accepted if is_legacy_cipher(c) and c not in weak]
    if weak or (legacy and strict):
        shown = weak + legacy if strict else weak
        add("weak-ciphers-refused", "fail", f"weak TLS 1.2 suites accepted: {', '.join(shown)}", _CIPHER_FIX)
    elif errors and not accepted:
        add("weak-ciphers-refused", "warn", f"sslyze scan incomplete: {errors[0]}", "re-run")
    elif legacy:
        add(
            "weak-ciphers-refused",
            "warn",
            f"{len(legacy)} CBC-mode or non-forward-secret TLS 1.2 suites accepted (the Mozilla "
            f"intermediate baseline has none): {', '.join(legacy)}",
            _CIPHER_FIX + "; --strict-ciphers fails them",
        )
    elif not accepted:
        add("weak-ciphers-refused", "pass", "no TLS 1.2 suite accepted (TLS 1.2 is off), none weak (sslyze)")
    else:
        detail = f"{len(accepted)} TLS 1.2 suites accepted, none weak (sslyze)"
        if errors:
            detail += f"; {len(errors)} suites could not be tested ({errors[0]})"
        add("weak-ciphers-refused", "pass", detail)
