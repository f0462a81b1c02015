"""What the benchmark compares: the certificate key types, TLS versions, the runbook's settings
and the guide's settings, and the loopback address every bench server listens on."""

from __future__ import annotations

import ssl

LOOPBACK = "127.0.0.1"
HOSTNAME = "localhost"
KEY_TYPES: tuple[str, ...] = ("ecdsa-p256", "rsa-2048", "rsa-4096")
RUNBOOK_KEY = "ecdsa-p256"
GUIDE_KEY = "rsa-4096"
PROTOCOLS: dict[str, ssl.TLSVersion] = {"TLSv1.3": ssl.TLSVersion.TLSv1_3, "TLSv1.2": ssl.TLSVersion.TLSv1_2}
CLAIM_LOW, CLAIM_HIGH = 5.0, 10.0  # the "TLS costs 5-10%" figure common guides repeat

RUNBOOK_SETTINGS = (
    "ECDSA P-256 CA, server and client certificates; TLS 1.2+1.3; tls-session-caching yes; "
    "applications share a connection pool (runbook.client.redis_pool)"
)
GUIDE_SETTINGS = (
    "RSA-4096 CA, server and client certificates (openssl genrsa 4096); same redis.conf otherwise; "
    "applications open a new connection per command (a new redis.Redis(host, port, ssl=True, "
    "ssl_ca_certs=..., ssl_certfile=..., ssl_keyfile=...) per request: redis-py's SSLConnection, "
    "which builds a new SSLContext and loads the system trust store on every connect)"
)

# The two ways the benchmark builds a redis-py TLS client (PoolingResult.client):
RUNBOOK_CLIENT = "runbook.client"  # redis_client / redis_pool: ContextSSLConnection, one context per client
SSL_ARGS_CLIENT = "redis-py ssl_*"  # redis.Redis(ssl=True, ssl_*=...): SSLConnection, a context per connect
CLIENTS: tuple[str, ...] = (RUNBOOK_CLIENT, SSL_ARGS_CLIENT)
