"""Clients built the correct way: an ``ssl.SSLContext`` and redis-py clients and pools.

What common guides get wrong, and what this package does instead:

* redis-py has no ``ssl_context=`` argument: pass the ``ssl_*`` arguments.
* ``ConnectionPool(ssl=True)`` fails at the first connection: a TLS pool needs
  ``connection_class=SSLConnection`` with the ``ssl_*`` arguments on the pool.
* ``decode_responses`` given beside ``connection_pool=`` is ignored: set it on the pool.
* redis-py's ``SSLConnection`` trusts the system CA store besides ``ssl_ca_certs`` and reloads it
  on every connect: the runbook's own clients use :class:`ContextSSLConnection` (one context that
  trusts only the given CA) and can verify a ``server_hostname`` other than the host.

The modules, from the bottom up: ``contexts`` (the client files, ``tls_context``, ``ssl_kwargs``),
``connection`` (``ContextSSLConnection``), ``clients`` (``redis_client``, ``redis_pool``,
``rediss://`` URLs), ``handshake`` (a strict in-memory handshake), ``endpoints`` (the run's target),
``snippets`` (client code for users), ``snippet_runner`` (run a snippet as printed),
``mistakes`` (the common redis-py mistakes, live) and ``ioredis`` (npm install).
"""

from __future__ import annotations

from runbook.client.clients import redis_client, redis_from_url, redis_pool, redis_url
from runbook.client.connection import ContextSSLConnection
from runbook.client.contexts import (
    LENIENT_CIPHERS,
    MODES,
    Mode,
    TlsClientFiles,
    cipher_suites,
    server_context,
    ssl_kwargs,
    tls_context,
)
from runbook.client.endpoint import TARGETS, Endpoint, address, target_endpoint
from runbook.client.handshake import HandshakeInfo, handshake_checks, memory_handshake
from runbook.client.ioredis import install_ioredis
from runbook.client.mistakes import common_mistakes
from runbook.client.snippet_runner import SnippetRun, redis_py_skip_reason, run_snippet
from runbook.client.snippets import (
    Snippet,
    ioredis_snippet,
    openssl_snippet,
    redis_cli_snippet,
    redis_py_pool_snippet,
    redis_py_snippet,
    snippets,
)
