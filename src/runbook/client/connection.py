"""A redis-py connection class that trusts only the CA of one prebuilt context."""

from __future__ import annotations

import socket
import ssl
from typing import Any

from redis.connection import SSLConnection


class ContextSSLConnection(SSLConnection):
    """A redis-py TLS connection that wraps every socket with one prebuilt ``ssl.SSLContext``.

    redis-py's own ``SSLConnection`` builds a context on every connect with
    ``ssl.create_default_context``: it loads the system CA store each time (tens of ms) and so
    trusts every public CA besides ``ssl_ca_certs``. This class trusts exactly what ``ssl_context``
    trusts (:func:`tls_context`: the given CA only) and loads nothing per connect.

    ``server_hostname`` is the name sent as SNI and checked against the certificate while the
    socket goes to ``host`` (redis-py has no such option; default: ``host``). The ``ssl_*``
    arguments of ``SSLConnection`` are refused: the context carries all of that.
    """

    def __init__(
        self, *, ssl_context: ssl.SSLContext, server_hostname: str | None = None, **kwargs: Any
    ) -> None:
        ignored = sorted(k for k in kwargs if k.startswith("ssl_"))
        if ignored:
            raise TypeError(f"ContextSSLConnection takes ssl_context= only, not {', '.join(ignored)}")
        super().__init__(**kwargs)
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname
        self.check_hostname = ssl_context.check_hostname
        self.cert_reqs = ssl_context.verify_mode

    def _wrap_socket_with_ssl(self, sock: socket.socket) -> ssl.SSLSocket:
        return self.ssl_context.wrap_socket(sock, server_hostname=self.server_hostname or self.host)
