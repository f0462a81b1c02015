"""Lint a redis.conf for TLS mistakes: one entry point, :func:`lint`, over the rule families.

Rules live by family: directive values (:mod:`.lint_directives`), ciphers (:mod:`.lint_ciphers`),
the files named (:mod:`.lint_files`) and replication/cluster links (:mod:`.lint_links`). Every
:class:`~runbook.results.Finding` names its directive in ``subject`` and in the message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path

from runbook.config.lint_ciphers import lint_ciphers
from runbook.config.lint_directives import lint_auth, lint_names, lint_ports, lint_protocols
from runbook.config.lint_files import lint_conf_mode, lint_files
from runbook.config.lint_links import lint_links
from runbook.config.parsing import ParsedConfig, parse, parse_text
from runbook.config.syntax import conf_text
from runbook.results import Finding


def _as_parsed(source: Path | str | ParsedConfig | Mapping[str, str]) -> ParsedConfig:
    if isinstance(source, ParsedConfig):
        return source
    if isinstance(source, Mapping):
        return parse_text(conf_text(source), name="<directives>")
    return parse(source)


def lint(
    source: Path | str | ParsedConfig | Mapping[str, str],
    *,
    warn_days: int = 30,
    migration: bool = False,
    now: dt.datetime | None = None,
) -> list[Finding]:
    """TLS mistakes in a redis.conf (path, parsed config or directives dict). Reads the files it names.

    Every finding's ``subject`` is the directive at fault and its message names it too.
    ``migration=True`` downgrades a plaintext port bound to loopback only (and
    ``tls-auth-clients optional``) from error to warning, for the migration window.
    """
    conf = _as_parsed(source)
    findings: list[Finding] = list(conf.errors)
    base = Path(conf.path).parent if conf.path not in ("<text>", "<directives>") else Path.cwd()
    when = now or dt.datetime.now(dt.UTC)

    def add(severity: str, directive: str, message: str, fix: str) -> None:
        findings.append(Finding(severity, directive, message, fix))  # type: ignore[arg-type]

    lint_names(conf, add)
    lint_ports(conf, add, migration)
    lint_auth(conf, add, migration)
    lint_protocols(conf, add)
    lint_ciphers(conf, add)
    pairs = lint_files(conf, base, add, warn_days, when)
    lint_links(conf, add, pairs)
    lint_conf_mode(conf, add)
    return findings


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]
