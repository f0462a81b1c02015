"""redis-tls-runbook: executable runbook for Redis over TLS 1.2/1.3 with mutual TLS."""

__version__ = "0.1.0"
