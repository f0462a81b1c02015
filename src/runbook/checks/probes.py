"""How the audit probes one endpoint: its probe contexts and the :class:`Prober` every check family uses.

Every probe context runs at OpenSSL security level 0 and ignores certificate dates (each check
owns one concern: ``cert-expiry`` owns dates, ``key-strength`` key sizes); other knobs are explicit.
The connections themselves are :mod:`runbook.client.probe`'s: they never raise for TLS or socket
errors but return a :class:`~runbook.client.probe.Probe` saying what happened.
Side effects: network connections to the target only.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from runbook.client import LENIENT_CIPHERS, Endpoint, TlsClientFiles, tls_context, wire
from runbook.client.probe import Probe, handshake

WRONG_NAME = "wrong-name.invalid"


def probe_context(
    files: TlsClientFiles | None,
    *,
    verify: bool = True,
    check_hostname: bool = False,
    strict: bool = False,
    client_cert: bool = True,
    version: ssl.TLSVersion | None = None,
    minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
) -> ssl.SSLContext:
    """An audit probe's context: security level 0, dates ignored, names only in subjectAltName;
    ``verify`` against ``files.ca`` (``strict``: with ``VERIFY_X509_STRICT``), ``check_hostname``,
    present ``files``' client certificate, pin one TLS ``version``."""
    verifying = verify and files is not None
    return tls_context(
        files,
        mode=("strict" if strict else "compatible") if verifying else "none",
        check_hostname=check_hostname,
        minimum=version or minimum,
        maximum=version,
        ciphers=LENIENT_CIPHERS,
        ignore_dates=True,
        client_cert=client_cert,
        common_name=False,  # RFC 6125: names live in subjectAltName only
    )


def auth_command(username: str | None, password: str | None) -> tuple[str, ...]:
    """The ``AUTH`` command to send before a command (empty without a password)."""
    if not password:
        return ()
    return ("AUTH", *([username] if username else []), password)


@dataclass(frozen=True)
class Prober:
    """How the audit reaches one endpoint: the :class:`~runbook.client.Endpoint` (its ``hostname`` is
    the name verified and sent as SNI, its ``files`` the CA and client certificate), the timeout of
    each connection, and the ``AUTH`` command sent before a command (empty without a password)."""

    endpoint: Endpoint
    timeout: float = 3.0
    auth: tuple[str, ...] = ()

    @property
    def files(self) -> TlsClientFiles:
        return self.endpoint.files

    @property
    def name(self) -> str:
        """The server name the audit verifies."""
        return self.endpoint.hostname

    def probe(
        self,
        ctx: ssl.SSLContext,
        send: bytes = b"",
        *,
        server_name: str | None = None,
        settle: float = 0.0,
        lines: int = 1,
    ) -> Probe:
        """One handshake with ``ctx`` for ``server_name`` (default: :attr:`name`); see
        :func:`runbook.client.probe.handshake`."""
        return handshake(
            self.endpoint,
            ctx,
            server_name=server_name,
            timeout=self.timeout,
            send=send,
            settle=settle,
            lines=lines,
        )

    def ping(self, ctx: ssl.SSLContext) -> Probe:
        """A handshake with ``ctx`` that sends (``AUTH`` and) ``PING`` and reads the replies."""
        send = (wire.encode(*self.auth) if self.auth else b"") + wire.INLINE_PING
        return self.probe(ctx, send, lines=1 + bool(self.auth))
