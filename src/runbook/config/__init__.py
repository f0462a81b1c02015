"""redis.conf TLS settings: render, parse (quotes, include, last-wins) and lint; apply to a server."""

from runbook.config.apply import ApplyReport, apply_tls, config_set_args, deploy_instructions
from runbook.config.linting import errors, lint
from runbook.config.node_client import ensure_node_client
from runbook.config.parsing import parse, parse_text
from runbook.config.rendering import directives, render, write_conf
from runbook.config.settings import (
    AUTH_CLIENTS,
    NODE_CLIENT,
    PRESETS,
    STRICT_CIPHERS,
    TLS_DIRECTIVES,
    TlsSettings,
    settings_for_pki,
)
from runbook.config.syntax import conf_text, quote, split_args
