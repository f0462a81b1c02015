"""The signature table: every known TLS failure of a Redis connection, as data.

:data:`CAUSE_INFO` says what each cause id means (one-line summary, the fix, the notebook to
revisit). :data:`SIGNATURES` is ONE ordered table of rows: OpenSSL reason strings / alerts,
redis-py exception texts, server-log patterns and facts from probes. The first row whose
conditions all hold names the cause (the matcher is :func:`runbook.diagnose.verdict.diagnose`).

Server-side lines keep the direction straight: ``alert unknown ca`` in the *server* log means the
client rejected the server's certificate, while the same alert received by the *client* means the
server rejected the client's certificate. Rows therefore say which side the text comes from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Where to go back to; the names of the runbook's notebooks by number and topic.
NB_CERTS = "01_certificates"
NB_SERVER = "02 server configuration"
NB_CLIENTS = "03 clients and verification"
NB_TROUBLE = "04_troubleshooting"
NB_ROTATION = "05 rotation"


@dataclass(frozen=True)
class Cause:
    """What a cause id means: one-line summary, the fix, and the notebook to revisit."""

    summary: str
    fix: str
    notebook: str


CAUSE_INFO: dict[str, Cause] = {
    "ok": Cause("the TLS handshake succeeds and Redis answers", "nothing to fix", ""),
    "server-unreachable": Cause(
        "nothing accepts TCP connections at this host and port",
        "start redis-server (its log says why it stopped) or correct host/port; check bind and firewalls",
        NB_SERVER,
    ),
    "untrusted-ca": Cause(
        "the client does not trust the CA that issued the server certificate",
        "give the client the CA that issued the server certificate (--cacert / ssl_ca_certs = that ca.crt)",
        NB_CLIENTS,
    ),
    "ca-not-strict": Cause(
        "the client trusts the right CA, but strict clients (Python 3.13's default context, OpenSSL "
        "-x509_strict) refuse it: no critical keyUsage keyCertSign, basicConstraints or key identifier",
        "re-sign the CA certificate with the same key, adding critical keyUsage keyCertSign+cRLSign and a "
        "subjectKeyIdentifier: runbook pki resign-ca --ca CA --ca-key CA_KEY --out NEW_CA",
        NB_CERTS,
    ),
    "server-name-cn-only": Cause(
        "the server name is only in the certificate's subject CN: OpenSSL-based clients fall back to the CN, "
        "clients that read names only from subjectAltName (Go, rustls, cryptography) refuse it",
        "re-issue the server certificate from the same CA with the name in subjectAltName",
        NB_CERTS,
    ),
    "chain-not-strict": Cause(
        "a compatible client (redis-cli, OpenSSL) connects, a strict client (Python 3.13's default context) does not",
        "run `runbook adopt` with the same files: it names each certificate strict clients refuse and its fix",
        NB_CERTS,
    ),
    "missing-intermediate": Cause(
        "the server sends its certificate without the intermediate CA that links it to the root the clients trust",
        "serve leaf + intermediate: renew the server certificate into tls-cert-file as leaf then intermediate "
        "(`step ca renew` / `step ca certificate` write both; else `cat new.crt intermediate.crt`), then reload it with "
        "`runbook watch --once --ca BUNDLE`, BUNDLE being your CA file plus that intermediate "
        "(`cat ca.crt intermediate.crt > bundle.crt`: until the server sends it, the admin connection needs it too)",
        NB_CERTS,
    ),
    "hostname-mismatch": Cause(
        "the server certificate does not name the host the client connects to",
        "connect with a name the certificate lists (see its SANs) or re-issue it with that name (--hostname/--ip)",
        NB_CERTS,
    ),
    "cert-expired": Cause(
        "a certificate in the handshake has expired",
        "rotate the expired certificate (notebook 05) and check the clocks of both hosts",
        NB_ROTATION,
    ),
    "cert-not-yet-valid": Cause(
        "a certificate in the handshake is not valid yet (issued in the future, or a clock is behind)",
        "fix the clock (NTP) of the host that rejects it, or re-issue the certificate with a past notBefore",
        NB_CERTS,
    ),
    "server-cert-wrong-usage": Cause(
        "the server certificate lacks the serverAuth extended key usage",
        "re-issue the server certificate from its CA with extendedKeyUsage serverAuth, then reload it "
        "(runbook rotate server --new-cert FILE --new-key FILE)",
        NB_CERTS,
    ),
    "client-cert-missing": Cause(
        "the server requires a client certificate (tls-auth-clients yes) and the client sent none",
        "give the client a certificate and key from the server's CA (--cert/--key; ssl_certfile/ssl_keyfile)",
        NB_CLIENTS,
    ),
    "client-cert-untrusted": Cause(
        "the server does not trust the CA that issued the client certificate",
        "issue the client certificate from the CA in the server's tls-ca-cert-file (or add its CA there)",
        NB_CERTS,
    ),
    "client-cert-wrong-usage": Cause(
        "the client certificate lacks the clientAuth extended key usage",
        "re-issue the client certificate from the CA in the server's tls-ca-cert-file with extendedKeyUsage "
        "clientAuth (runbook rotate client --new-cert FILE --new-key FILE installs it)",
        NB_CERTS,
    ),
    "plaintext-to-tls-port": Cause(
        "the client speaks plaintext to a port that only speaks TLS",
        "enable TLS in the client (redis-cli --tls --cacert ...; redis-py ssl=True with the ssl_* arguments)",
        NB_CLIENTS,
    ),
    "tls-to-plaintext-port": Cause(
        "the client speaks TLS to a port that speaks plaintext RESP",
        "connect to the server's tls-port, or enable tls-port on the server (notebook 02)",
        NB_SERVER,
    ),
    "protocol-mismatch": Cause(
        "client and server share no TLS protocol version",
        'allow TLS 1.2 and/or 1.3 on both sides (tls-protocols "TLSv1.2 TLSv1.3"; client minimum TLS 1.2)',
        NB_SERVER,
    ),
    "no-shared-cipher": Cause(
        "client and server share no cipher suite",
        "align tls-ciphers (TLS 1.2) / tls-ciphersuites (TLS 1.3) with what clients offer (ECDHE + AES-GCM)",
        NB_SERVER,
    ),
    "server-key-mismatch": Cause(
        "redis-server's tls-key-file does not belong to its tls-cert-file, so it does not start",
        "point tls-key-file at the key issued with tls-cert-file (or re-issue both together), then restart",
        NB_SERVER,
    ),
    "server-file-unreadable": Cause(
        "redis-server cannot read one of its TLS files (missing, no permission, or not PEM), so it does not start",
        "fix the paths/permissions of tls-cert-file, tls-key-file, tls-ca-cert-file (readable by redis), then restart",
        NB_SERVER,
    ),
    "server-key-passphrase": Cause(
        "redis-server cannot decrypt its private key (passphrase missing or wrong), so it does not start",
        "set tls-key-file-pass to the key's passphrase (or keep the key unencrypted, mode 0600), then restart",
        NB_SERVER,
    ),
    "outgoing-cert-wrong-usage": Cause(
        "the certificate this node presents to its primary or peers lacks clientAuth, so the link stays down",
        "issue the node a certificate with serverAuth and clientAuth, or set tls-client-cert-file/-key-file",
        NB_CERTS,
    ),
    "replication-link-down": Cause(
        "the node answers, but its link to its primary or cluster peers is down",
        "read the node's log for the link error (tls-replication / tls-cluster, CA, certificates)",
        NB_SERVER,
    ),
    "unknown": Cause(
        "the failure matches no known signature",
        "read the server log; retry with `openssl s_client -connect HOST:PORT` and the same CA and client files",
        NB_TROUBLE,
    ),
}


@dataclass(frozen=True)
class Signature:
    """One row of the table. Every non-empty condition must hold; the first matching row wins.

    ``client``: regexes searched in the client-side error text (the exception chain, plus the
    alert a probe received). ``log``: regexes searched in the server log lines (each must match
    some line). ``facts``: exact values the context must carry (a missing fact never matches).
    """

    cause: str
    client: tuple[str, ...] = ()
    log: tuple[str, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)


def _sig(cause: str, client: str = "", log: Sequence[str] = (), **facts: Any) -> Signature:
    return Signature(cause, (client,) if client else (), tuple(log), facts)


_REFUSED = (
    r"Connection refused|Errno 111|No route to host|Name or service not known|nodename nor servname"
    r"|Temporary failure in name resolution|Network is unreachable|Timeout connecting|connect timed out"
)
_RESET = (
    r"Connection reset|Connection closed by server|Errno 104|EOF occurred|UNEXPECTED_EOF|unexpected eof"
    r"|closed the connection|Broken pipe"
)
_PLAINTEXT_REPLY = r"WRONG_VERSION_NUMBER|wrong version number|handshake operation timed out|PACKET_LENGTH_TOO_LONG|record layer failure|unknown protocol"
_VERIFY_CA = (
    r"self[- ]signed certificate|unable to get local issuer|unable to get issuer|unable to verify the first"
    r"|certificate signature failure|CERTIFICATE_VERIFY_FAILED|certificate verify failed"
)
_PROTOCOL = (
    r"alert protocol version|PROTOCOL_VERSION|unsupported protocol|UNSUPPORTED_PROTOCOL|no protocols available"
    r"|NO_PROTOCOLS_AVAILABLE|version too low|VERSION_TOO_LOW|inappropriate fallback"
)
_CIPHER = r"no shared cipher|NO_SHARED_CIPHER|no cipher match|NO_CIPHER_MATCH|no ciphers available|alert insufficient security"
_HANDSHAKE_FAILURE = r"alert handshake failure|HANDSHAKE_FAILURE"

# Ordered: the first row whose conditions all hold names the cause.
SIGNATURES: tuple[Signature, ...] = (
    _sig("ok", healthy=True),
    # the server did not start: its own log at start-up says why
    _sig(
        "server-key-passphrase",
        log=[
            r"Failed to load private key.*(bad decrypt|interrupted or cancelled|bad password|wrong password|decryption failed)"
        ],
    ),
    # a wrong passphrase that decoded to garbage (about 1 in 256): the key file is an encrypted PEM
    _sig(
        "server-key-passphrase",
        log=[r"Failed to load private key.*DECODER routines"],
        server_key_encrypted=True,
    ),
    _sig("server-key-mismatch", log=[r"key values mismatch|private key does not match|KEY_VALUES_MISMATCH"]),
    _sig(
        "server-file-unreadable",
        log=[
            r"Failed to (load certificate|load private key|configure CA certificate|load DH|load client certificate)",
            r"No such file|Permission denied|Is a directory|no start line|DECODER routines::unsupported",
        ],
    ),
    # nothing answers
    _sig("server-unreachable", stage="connect"),
    # a TLS handshake that times out or reads non-TLS bytes: TCP worked, the port speaks something else
    _sig("tls-to-plaintext-port", _PLAINTEXT_REPLY),
    _sig("server-unreachable", _REFUSED),
    # TLS where there is none, and the reverse: probe facts first, then the client's texts
    _sig("tls-to-plaintext-port", tls=True, server_speaks="resp"),
    _sig("plaintext-to-tls-port", tls=False, server_speaks="tls"),
    _sig(
        "plaintext-to-tls-port",
        log=[
            r"SSL routines::(wrong version number|http request|packet length too long|record layer failure)"
        ],
        tls=False,
    ),
    _sig("plaintext-to-tls-port", _RESET, tls=False),
    # the client rejects the server's certificate (verify errors, client side)
    _sig(
        "hostname-mismatch",
        r"Hostname mismatch|IP address mismatch|doesn't match|not valid for|HOSTNAME_MISMATCH",
    ),
    _sig("cert-expired", r"certificate has expired|CERTIFICATE_EXPIRED|alert certificate expired"),
    _sig("cert-not-yet-valid", r"certificate is not yet valid|CERTIFICATE_NOT_YET_VALID"),
    _sig(
        "server-cert-wrong-usage",
        r"unsupported certificate purpose|unsuitable certificate purpose|INVALID_PURPOSE",
    ),
    _sig("missing-intermediate", _VERIFY_CA, missing_intermediate=True),
    _sig("untrusted-ca", _VERIFY_CA),
    # the server rejects the client's certificate: the alert the client receives, or the server log
    _sig("client-cert-missing", r"alert certificate required|CERTIFICATE_REQUIRED"),
    _sig("client-cert-missing", log=[r"peer did not return a certificate"]),
    _sig("client-cert-untrusted", r"alert unknown ca|UNKNOWN_CA"),
    _sig("client-cert-wrong-usage", r"alert unsupported certificate|UNSUPPORTED_CERTIFICATE"),
    _sig("client-cert-wrong-usage", log=[r"certificate verify failed"], client_cert_client_auth=False),
    _sig("cert-expired", log=[r"certificate verify failed"], client_cert_validity="expired"),
    _sig("cert-not-yet-valid", log=[r"certificate verify failed"], client_cert_validity="not-yet-valid"),
    _sig("client-cert-untrusted", log=[r"certificate verify failed"]),
    # protocol versions and ciphers
    _sig("protocol-mismatch", _PROTOCOL),
    _sig("protocol-mismatch", log=[r"SSL routines::(unsupported protocol|version too low)"]),
    _sig("no-shared-cipher", _CIPHER),
    _sig("no-shared-cipher", log=[r"no shared cipher"]),
    _sig("no-shared-cipher", hello_alert="handshake failure"),
    # a handshake failure after the hello, or a reset after the handshake: what the client sent decides
    _sig("client-cert-missing", _HANDSHAKE_FAILURE + "|" + _RESET, client_cert=False),
    _sig("client-cert-wrong-usage", _RESET, client_cert_client_auth=False),
    _sig("cert-expired", _RESET, client_cert_validity="expired"),
    _sig("cert-not-yet-valid", _RESET, client_cert_validity="not-yet-valid"),
    _sig("client-cert-untrusted", _RESET, client_cert=True, stage="command"),
    _sig("no-shared-cipher", _HANDSHAKE_FAILURE),
    # replicas and cluster nodes: the certificate a node presents to its primary or peers
    _sig("outgoing-cert-wrong-usage", log=[r"alert unsupported certificate"], link="down"),
    _sig("outgoing-cert-wrong-usage", link="down", outgoing_client_auth=False),
    _sig("replication-link-down", link="down"),
)

CAUSES: tuple[str, ...] = tuple(CAUSE_INFO)


# --------------------------------------------------------------------------- views of the table


def log_patterns() -> list[dict[str, str]]:
    """What to grep for in a redis-server log, and the cause each pattern means (from the table)."""
    causes: dict[str, list[str]] = {}
    for sig in SIGNATURES:
        for pattern in sig.log:
            causes.setdefault(pattern, [])
            if sig.cause not in causes[pattern]:
                causes[pattern].append(sig.cause)
    return [{"grep": pattern, "cause": " / ".join(found)} for pattern, found in causes.items()]


def signature_table() -> list[dict[str, Any]]:
    """The signature table as plain rows (cause, where it is read, pattern, fix) for display."""
    rows = []
    for sig in SIGNATURES:
        where = [*(["client error"] if sig.client else []), *(["server log"] if sig.log else [])]
        where += [f"{k}={v}" for k, v in sig.facts.items()]
        rows.append({"cause": sig.cause, "reads": ", ".join(where), "fix": CAUSE_INFO[sig.cause].fix})
    return rows
