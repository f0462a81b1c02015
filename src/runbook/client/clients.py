"""The runbook's redis-py clients and pools over TLS, and ``rediss://`` URLs.

``redis_client`` and ``redis_pool`` use :class:`ContextSSLConnection` with one :func:`tls_context`
per client or pool: they trust only ``files.ca`` and read no file per connect. ``redis_url`` /
``redis_from_url`` use redis-py's own ``ssl_*`` settings (a URL cannot carry a context).
"""

from __future__ import annotations

import ssl
from typing import Any

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from runbook.client.connection import ContextSSLConnection
from runbook.client.contexts import Mode, TlsClientFiles, tls_context


def _context_pool(
    host: str,
    port: int,
    files: TlsClientFiles,
    server_hostname: str | None,
    socket_timeout: float,
    mode: Mode = "strict",
    **kwargs: Any,
) -> redis.ConnectionPool:
    """A pool of :class:`ContextSSLConnection` sharing one :func:`tls_context` (built here, once)."""
    return redis.ConnectionPool(
        connection_class=ContextSSLConnection,
        ssl_context=tls_context(files, mode=mode),
        server_hostname=server_hostname,
        host=host,
        port=port,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        **kwargs,
    )


def redis_client(
    host: str,
    port: int,
    files: TlsClientFiles,
    *,
    server_hostname: str | None = None,
    decode_responses: bool = True,
    socket_timeout: float = 5.0,
    single_connection_client: bool = False,
    mode: Mode = "strict",
    **extra: Any,
) -> redis.Redis:
    """A redis-py client over TLS that trusts only ``files.ca`` (its context is built once, here).

    Connects to ``host`` and verifies the certificate for ``server_hostname`` (default: ``host``).
    ``extra`` goes to the connections (``retry=``, ``username=``, ...); without ``retry=`` a failed
    connect is retried as ``redis.Redis`` does by default (3 times, exponential backoff with jitter).
    Closing the client closes its pool. ``mode``: ``strict`` (applications, what we issue) or
    ``compatible`` (admin paths: what Redis and OpenSSL accept, so strictness is a finding, never a
    reason an admin connection fails).
    """
    extra.setdefault("retry", Retry(ExponentialWithJitterBackoff(base=1, cap=10), 3))
    pool = _context_pool(
        host,
        port,
        files,
        server_hostname,
        socket_timeout,
        mode,
        decode_responses=decode_responses,
        **extra,
    )
    client = redis.Redis(connection_pool=pool, single_connection_client=single_connection_client)
    client.auto_close_connection_pool = True  # the pool is this client's own, as in Redis.from_pool
    return client


def redis_pool(
    host: str,
    port: int,
    files: TlsClientFiles,
    *,
    server_hostname: str | None = None,
    decode_responses: bool = True,
    max_connections: int = 50,
    socket_timeout: float = 5.0,
    mode: Mode = "strict",
) -> redis.ConnectionPool:
    """A TLS connection pool trusting only ``files.ca``: one context for all its connections.

    ``connection_class=ContextSSLConnection`` and ``decode_responses`` on the pool (beside
    ``connection_pool=`` redis-py ignores it). ``server_hostname`` and ``mode`` as in :func:`redis_client`.
    """
    return _context_pool(
        host,
        port,
        files,
        server_hostname,
        socket_timeout,
        mode,
        decode_responses=decode_responses,
        max_connections=max_connections,
    )


def redis_url(
    host: str, port: int, files: TlsClientFiles, *, db: int = 0, check_hostname: bool = True
) -> str:
    """A ``rediss://`` URL carrying the ``ssl_*`` settings as query arguments (no secrets, only paths)."""
    from urllib.parse import urlencode

    query: dict[str, str] = {"ssl_cert_reqs": "required", "ssl_ca_certs": files.ca}
    if files.cert:
        query["ssl_certfile"] = files.cert
        query["ssl_keyfile"] = files.key or ""
    query["ssl_check_hostname"] = "true" if check_hostname else "false"
    netloc = f"[{host}]" if ":" in host else host
    return f"rediss://{netloc}:{port}/{db}?{urlencode(query)}"


def redis_from_url(url: str, *, decode_responses: bool = True, socket_timeout: float = 5.0) -> redis.Redis:
    """A redis-py client from a ``rediss://`` URL (TLS 1.2 minimum added; ``decode_responses`` kept)."""
    return redis.Redis.from_url(
        url,
        decode_responses=decode_responses,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        ssl_min_version=ssl.TLSVersion.TLSv1_2,
    )
