"""The files a TLS client needs and the ``ssl.SSLContext`` / redis-py ``ssl_*`` arguments built from them."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook.pki import DEFAULT_CLIENT, PkiPaths


@dataclass(frozen=True)
class TlsClientFiles:
    """The files a client needs: the CA to trust and, for mutual TLS, its certificate and key."""

    ca: str
    cert: str | None = None
    key: str | None = None

    @classmethod
    def from_pki(cls, pki_dir: Path | str, client: str | None = DEFAULT_CLIENT) -> TlsClientFiles:
        paths = PkiPaths(Path(pki_dir))
        if client is None:
            return cls(str(paths.ca_cert))
        return cls(str(paths.ca_cert), str(paths.client_cert(client)), str(paths.client_key(client)))


def tls_context(
    files: TlsClientFiles,
    *,
    check_hostname: bool = True,
    minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
    maximum: ssl.TLSVersion | None = None,
    strict: bool = True,
) -> ssl.SSLContext:
    """A client ``SSLContext``: trusts ``files.ca``, presents the client cert, TLS 1.2+ by default.

    ``strict`` adds ``VERIFY_X509_STRICT`` (Python 3.13's default) so certificates that would
    fail on 3.13 fail here too.
    """
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=files.ca)
    ctx.check_hostname = check_hostname
    ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    if strict:
        ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    if files.cert:
        ctx.load_cert_chain(files.cert, files.key)
    return ctx


def ssl_kwargs(files: TlsClientFiles, *, check_hostname: bool = True, strict: bool = True) -> dict[str, Any]:
    """The redis-py ``ssl_*`` keyword arguments that really exist, for a client or a pool."""
    kwargs: dict[str, Any] = {
        "ssl_ca_certs": files.ca,
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": check_hostname,
        "ssl_min_version": ssl.TLSVersion.TLSv1_2,
    }
    if files.cert:
        kwargs["ssl_certfile"] = files.cert
        kwargs["ssl_keyfile"] = files.key
    if strict:
        kwargs["ssl_include_verify_flags"] = [ssl.VERIFY_X509_STRICT]
    return kwargs
