"""redis.conf TLS settings: render, parse (quotes, include, last-wins) and lint; apply to a server.

* :func:`render` turns :class:`TlsSettings` into a commented redis.conf TLS section covering every
  TLS directive of Redis 7 (only the ones that apply are emitted). Presets: ``strict`` (plaintext
  port closed, mutual TLS required, TLS 1.2 + 1.3, ECDHE + AEAD ciphers only, server cipher order,
  session caching) and ``migration`` (the plaintext port kept open on loopback only, loudly
  flagged as temporary). Whenever replication or cluster is on, the outgoing links present a
  clientAuth certificate (``tls-client-cert-file``): a server-only certificate is refused by a
  primary that requires client certificates, with nothing logged at the default level.
* :func:`parse` reads a redis.conf like Redis does (``sdssplitargs`` quoting, case-insensitive
  names, ``include`` with globs, the last occurrence wins).
* :func:`lint` finds TLS mistakes; each :class:`~runbook.results.Finding` names its directive in
  ``subject`` and in the message.
* :func:`apply_tls` changes a running server with one ``CONFIG SET`` (atomic in Redis 7) and
  ``CONFIG REWRITE`` only when the server runs from a config file we own.

Modules, in import order (each uses only the ones above it):

==================== ==========================================================================
``settings``         presets, the TLS directive table, :class:`TlsSettings`, :func:`settings_for_pki`
``node_client``      the clientAuth certificate of replication/cluster links (:func:`ensure_node_client`)
``syntax``           one redis.conf line: :func:`split_args` (``sdssplitargs``), :func:`quote`
``rendering``        :func:`directives`, :func:`render`, :func:`write_conf`
``parsing``          :func:`parse`, :func:`parse_text`: includes, globs, last wins -> :class:`ParsedConfig`
``lint_*``           the lint rules by family: directives, ciphers, files, links (``lint_support``: shared)
``linting``          :func:`lint` runs every rule family; :func:`errors`
``apply``            :func:`apply_tls` (CONFIG SET / REWRITE), :func:`deploy_instructions`
==================== ==========================================================================
"""

from runbook.config.apply import ApplyReport, apply_tls, config_set_args, deploy_instructions
from runbook.config.lint_ciphers import weak_ciphers
from runbook.config.lint_support import Add
from runbook.config.linting import errors, lint
from runbook.config.node_client import ensure_node_client
from runbook.config.parsing import ParsedConfig, parse, parse_text
from runbook.config.rendering import directives, render, write_conf
from runbook.config.settings import (
    AUTH_CLIENTS,
    KNOWN_PROTOCOLS,
    NODE_CLIENT,
    PRESETS,
    STRICT_CIPHERS,
    STRICT_CIPHERSUITES,
    STRICT_PROTOCOLS,
    TLS_DIRECTIVES,
    YES_NO,
    Preset,
    TlsSettings,
    settings_for_pki,
)
from runbook.config.syntax import conf_text, quote, split_args

__all__ = [
    "AUTH_CLIENTS",
    "KNOWN_PROTOCOLS",
    "NODE_CLIENT",
    "PRESETS",
    "STRICT_CIPHERS",
    "STRICT_CIPHERSUITES",
    "STRICT_PROTOCOLS",
    "TLS_DIRECTIVES",
    "YES_NO",
    "Add",
    "ApplyReport",
    "ParsedConfig",
    "Preset",
    "TlsSettings",
    "apply_tls",
    "conf_text",
    "config_set_args",
    "deploy_instructions",
    "directives",
    "ensure_node_client",
    "errors",
    "lint",
    "parse",
    "parse_text",
    "quote",
    "render",
    "settings_for_pki",
    "split_args",
    "weak_ciphers",
    "write_conf",
]
