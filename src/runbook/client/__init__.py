"""Clients built the correct way: an ``ssl.SSLContext`` and redis-py clients and pools."""

from runbook.client.clients import redis_client, redis_from_url, redis_pool, redis_url
from runbook.client.connection import ContextSSLConnection
from runbook.client.contexts import (
    LENIENT_CIPHERS,
    Mode,
    TlsClientFiles,
    cipher_suites,
    ssl_kwargs,
    tls_context,
)
from runbook.client.endpoint import Endpoint, address, target_endpoint
from runbook.client.handshake import chain_refusal, client_refusal, handshake_checks, memory_handshake
from runbook.client.ioredis import install_ioredis
from runbook.client.mistakes import common_mistakes
from runbook.client.snippet_runner import SnippetRun, redis_py_skip_reason, run_snippet
from runbook.client.snippets import (
    ioredis_snippet,
    openssl_snippet,
    redis_cli_snippet,
    redis_py_pool_snippet,
    redis_py_snippet,
    snippets,
)
