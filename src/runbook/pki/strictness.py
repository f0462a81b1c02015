"""What strict clients refuse in a deployment that Redis and OpenSSL accept, and the exact fix.

Strict clients are Python 3.13's default context (``VERIFY_X509_STRICT``, names only in
subjectAltName), ``openssl verify -x509_strict`` and cryptography's verifier. They refuse:

* a CA certificate without a critical keyUsage holding keyCertSign, without critical
  basicConstraints CA:TRUE, without a subjectKeyIdentifier, or not X.509 v3 (``ca-not-strict``):
  fixed by re-signing the CA certificate with the same key (every leaf stays valid);
* a server certificate whose name is only in the subject CN, with no subjectAltName
  (``server-name-cn-only``): OpenSSL-based clients (redis-cli, Python's ``ssl`` by default) fall
  back to the CN, clients that read names only from subjectAltName (Go, rustls, cryptography)
  refuse it; fixed by re-issuing it from the same CA with the name in a SAN.

Pure functions over certificates; nothing here reads the network or writes a file.
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from cryptography import x509

E = TypeVar("E", bound=x509.ExtensionType)
STRICT_CLIENTS = "strict clients (Python 3.13's default context, OpenSSL -x509_strict)"
SAN_ONLY_CLIENTS = (
    "clients that read names only from subjectAltName (RFC 6125: Go's crypto/tls, rustls, "
    "cryptography's verifier, the runbook's strict profile)"
)


@dataclass(frozen=True)
class StrictFinding:
    """One thing strict clients refuse: a stable id, what is wrong, and the exact fix."""

    id: str
    subject: str
    detail: str
    fix: str


def ca_problems(ca: x509.Certificate) -> list[str]:
    """Why strict clients refuse ``ca`` as a trust anchor or intermediate (empty: they accept it)."""
    if ca.version != x509.Version.v3:
        return ["not an X.509 v3 certificate"]
    problems = []
    bc = _ext(ca, x509.BasicConstraints)
    if bc is None or not bc.value.ca:
        problems.append("no basicConstraints CA:TRUE")
    elif not bc.critical:
        problems.append("basicConstraints not critical")
    ku = _ext(ca, x509.KeyUsage)
    if ku is None:
        problems.append("no keyUsage")
    elif not ku.value.key_cert_sign:
        problems.append("keyUsage without keyCertSign")
    elif not ku.critical:
        problems.append("keyUsage not critical")
    if _ext(ca, x509.SubjectKeyIdentifier) is None:
        problems.append("no subjectKeyIdentifier")
    return problems


def name_only_in_cn(leaf: x509.Certificate, name: str) -> bool:
    """True when ``name`` matches the subject CN of a leaf that has no DNS subjectAltName: OpenSSL-based
    clients that fall back to the CN accept it, strict clients (names only in SANs) refuse it."""
    return name_match(leaf, name) == "cn"


def name_match(leaf: x509.Certificate, name: str) -> Literal["san", "cn", ""]:
    """How an OpenSSL-based client (redis-cli, Redis's own links, Python's ``ssl`` with CN fallback)
    matches ``name`` against ``leaf``: ``"san"`` by a subjectAltName, ``"cn"`` by the subject CN (only
    when the leaf has no DNS subjectAltName, and never for an IP address), ``""`` not at all.

    Names compare case-insensitively; a wildcard is a whole leftmost label (``*.example.com``) over at
    least two labels, matching exactly one label.
    """
    ip = _ip(name)
    san = _ext(leaf, x509.SubjectAlternativeName)
    if ip is not None:
        ips = san.value.get_values_for_type(x509.IPAddress) if san is not None else []
        return "san" if ip in ips else ""
    dns = san.value.get_values_for_type(x509.DNSName) if san is not None else []
    if dns:
        return "san" if any(_host_matches(p, name) for p in dns) else ""
    return "cn" if any(_host_matches(c, name) for c in common_names(leaf)) else ""


def served_names(leaf: x509.Certificate) -> list[str]:
    """Every name OpenSSL-based clients accept ``leaf`` for: its DNS and IP subjectAltNames, or its
    subject CN when it has no DNS subjectAltName (a CN with spaces names nothing a client dials)."""
    san = _ext(leaf, x509.SubjectAlternativeName)
    dns = [str(d) for d in san.value.get_values_for_type(x509.DNSName)] if san is not None else []
    ips = [str(i) for i in san.value.get_values_for_type(x509.IPAddress)] if san is not None else []
    cns = [] if dns else [c for c in common_names(leaf) if c and not any(ch.isspace() for ch in c)]
    return list(dict.fromkeys([*dns, *cns, *ips]))


def common_names(cert: x509.Certificate) -> list[str]:
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]


def _host_matches(pattern: str, name: str) -> bool:
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern == name:
        return True
    if not pattern.startswith("*.") or pattern.count(".") < 2:
        return False
    head, dot, rest = name.partition(".")
    return bool(head and dot) and rest == pattern[2:]


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return None


def resign_commands(ca: str, ca_key: str, out: str, serial: int | None = None) -> tuple[str, str]:
    """The runbook command and the openssl command that re-sign ``ca`` with its own key into ``out``
    (the same subject, key and serial, so leaves naming their issuer by serial still chain)."""
    q = shlex.quote
    runbook = f"runbook pki resign-ca --ca {q(ca)} --ca-key {q(ca_key)} --out {q(out)}"
    keep_serial = f"-set_serial 0x{serial:040X} " if serial is not None else ""  # 20 octets: one width
    openssl = (
        f"openssl x509 -in {q(ca)} -x509toreq -signkey {q(ca_key)} | openssl x509 -req -signkey {q(ca_key)} "
        f"{keep_serial}"
        "-days 3650 -extfile <(printf '%s\\n' 'basicConstraints=critical,CA:TRUE' "
        "'keyUsage=critical,keyCertSign,cRLSign' 'subjectKeyIdentifier=hash') "
        f"-out {q(out)}"
    )
    return runbook, openssl


def ca_fix(ca: str, ca_key: str = "", *, serial: int | None = None) -> str:
    """The exact fix for ``ca-not-strict`` naming the operator's files (``CA_KEY`` when unknown)."""
    out = _new_name(ca)
    runbook, openssl = resign_commands(ca, ca_key or "CA_KEY", out, serial)
    return (
        "re-sign the CA certificate with the same key, adding critical keyUsage keyCertSign+cRLSign and a "
        f"subjectKeyIdentifier (every issued certificate stays valid): `{runbook}` (or `{openssl}`), "
        f"then give clients and servers {out}"
    )


def strict_findings(
    cas: Sequence[x509.Certificate],
    chain: Sequence[x509.Certificate],
    server_name: str,
    *,
    ca_path: str = "",
    ca_key_path: str = "",
) -> list[StrictFinding]:
    """What strict clients refuse in this deployment: the CAs clients trust (``cas``, from
    ``ca_path``), the chain the server presents (``chain``: leaf first) and the name they verify."""
    out: list[StrictFinding] = []
    for cert in [*cas, *chain[1:]]:
        problems = ca_problems(cert)
        if problems:
            subject = cert.subject.rfc4514_string()
            if any(f.subject == subject for f in out):
                continue
            out.append(
                StrictFinding(
                    "ca-not-strict",
                    subject,
                    f"{STRICT_CLIENTS} will refuse this CA ({subject}): {', '.join(problems)}",
                    ca_fix(ca_path or "ca.crt", ca_key_path, serial=cert.serial_number),
                )
            )
    if chain and name_only_in_cn(chain[0], server_name):
        kind = "IP" if is_ip(server_name) else "DNS"
        out.append(
            StrictFinding(
                "server-name-cn-only",
                chain[0].subject.rfc4514_string(),
                f"{SAN_ONLY_CLIENTS} will refuse the server certificate for {server_name}: "
                "the name is only in the subject CN (no subjectAltName)",
                f"re-issue the server certificate from the same CA with subjectAltName {kind}:{server_name} "
                "(keep the key; after the CA is strict), then reload it with `runbook watch --once`",
            )
        )
    return out


def _new_name(path: str) -> str:
    stem, dot, ext = path.rpartition(".")
    return f"{stem}-strict.{ext}" if dot and "/" not in ext else f"{path}-strict"


def is_ip(name: str) -> bool:
    return _ip(name) is not None


def _ext(cert: x509.Certificate, cls: type[E]) -> x509.Extension[E] | None:
    try:
        return cert.extensions.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        return None
