"""Create (or complete) a PKI directory on disk: :func:`create_pki` with a :class:`PkiSpec`.

Every input is validated first; then each file is planned (reuse what fits the spec, issue what
is missing, refuse what exists but does not fit unless ``force``); only then is anything written,
all at once (keys 0600 from the first byte, directory 0700), after a backup of what is replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from runbook import files
from runbook.errors import RunbookError
from runbook.pki.builders import Issued, make_ca, make_leaf
from runbook.pki.inspection import cert_info, load_cert, signed_by
from runbook.pki.keys import CA_ENV, key_description, key_matches, load_key, validate_key_type
from runbook.pki.paths import CA_CERT, CA_KEY, DEFAULT_CLIENT, SERVER_CERT, SERVER_KEY, PkiPaths
from runbook.pki.validation import (
    LOCAL_HOSTNAMES,
    LOCAL_IPS,
    validate_client_name,
    validate_days,
    validate_hostname,
    validate_ip,
)


@dataclass
class PkiSpec:
    """What :func:`create_pki` should produce."""

    hostnames: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    local_names: bool = True
    clients: list[str] = field(default_factory=lambda: [DEFAULT_CLIENT])
    key_type: str = "ecdsa-p256"
    ca_days: int = 3650
    days: int = 365
    ca_passphrase: bytes | None = None
    server_key_passphrase: bytes | None = None

    def server_names(self) -> tuple[list[str], list[str]]:
        """(DNS names, IPs) for the server certificate, validated and de-duplicated."""
        dns = [validate_hostname(h) for h in self.hostnames]
        ips = [str(validate_ip(i)) for i in self.ips]
        if self.local_names:
            dns += list(LOCAL_HOSTNAMES)
            ips += list(LOCAL_IPS)
        if not dns and not ips:
            raise RunbookError(
                "the server certificate needs a name: pass --hostname or drop --no-local-names"
            )
        return list(dict.fromkeys(dns)), list(dict.fromkeys(ips))

    def validate(self) -> None:
        validate_key_type(self.key_type)
        validate_days(self.ca_days, "CA validity (--ca-days)")
        validate_days(self.days, "certificate validity (--days)")
        self.server_names()
        for c in self.clients:
            validate_client_name(c)


@dataclass(frozen=True)
class PkiReport:
    """What :func:`create_pki` did: files written, files kept, and the backup folder if any."""

    directory: str
    written: list[str]
    kept: list[str]
    backup: str | None

    @property
    def changed(self) -> bool:
        return bool(self.written)


def create_pki(pki_dir: Path | str, spec: PkiSpec | None = None, *, force: bool = False) -> PkiReport:
    """Create (or complete) the PKI in ``pki_dir``. Writes files; idempotent.

    * Inputs are validated before anything is written; a bad input raises and writes nothing.
    * Existing files are reused when they satisfy ``spec`` (same CA, names covered, same key
      type); a file that does not fit raises a :class:`RunbookError` unless ``force``.
    * With ``force`` everything is re-issued, after the old files are copied to
      ``backups/<UTC timestamp>/``.
    """
    spec = spec or PkiSpec()
    spec.validate()
    plan = _Plan(PkiPaths(Path(pki_dir)), spec, force)
    dns, ips = spec.server_names()
    ca, fresh_ca = _plan_ca(plan)
    _plan_server(plan, ca, fresh_ca, dns, ips)
    _plan_clients(plan, ca, fresh_ca)
    backup_dir = _write_plan(plan)
    return PkiReport(
        directory=str(plan.paths.root),
        written=[str(p.path.relative_to(plan.paths.root)) for p in plan.writes],
        kept=plan.kept,
        backup=str(backup_dir) if backup_dir else None,
    )


@dataclass
class _Plan:
    """What :func:`create_pki` will write and keep, decided before anything is written."""

    paths: PkiPaths
    spec: PkiSpec
    force: bool
    writes: list[files.PlannedWrite] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def _plan_ca(plan: _Plan) -> tuple[Issued, bool]:
    """The CA to sign with and whether it is new: a fresh one, or the existing pair checked."""
    paths, spec = plan.paths, plan.spec
    if plan.force or not paths.ca_cert.exists():
        if not plan.force and paths.ca_key.exists():
            raise RunbookError(f"{paths.ca_key} exists without ca.crt: restore ca.crt or pass --force")
        ca = make_ca(spec.key_type, spec.ca_days)
        plan.writes += ca.planned_writes(paths.ca_cert, paths.ca_key, spec.ca_passphrase)
        return ca, True
    ca_cert = load_cert(paths.ca_cert)
    if not paths.ca_key.exists():
        raise RunbookError(f"{paths.ca_key} is missing: restore it from backups/ or pass --force")
    ca = Issued(ca_cert, load_key(paths.ca_key, spec.ca_passphrase, CA_ENV))
    if not key_matches(ca_cert, ca.key):
        raise RunbookError("ca.key does not match ca.crt: restore the pair from backups/ or pass --force")
    plan.kept += [CA_CERT, CA_KEY]
    return ca, False


def _plan_server(plan: _Plan, ca: Issued, fresh_ca: bool, dns: list[str], ips: list[str]) -> None:
    paths, spec = plan.paths, plan.spec
    if _leaf_fits(plan, ca, fresh_ca, paths.server_cert, paths.server_key, dns, ips):
        plan.kept += [SERVER_CERT, SERVER_KEY]
        return
    server = make_leaf(
        ca,
        dns[0] if dns else ips[0],
        purpose="server",
        hostnames=dns,
        ips=ips,
        key_type=spec.key_type,
        days=spec.days,
    )
    plan.writes += server.planned_writes(paths.server_cert, paths.server_key, spec.server_key_passphrase)


def _plan_clients(plan: _Plan, ca: Issued, fresh_ca: bool) -> None:
    paths, spec = plan.paths, plan.spec
    for name in dict.fromkeys(spec.clients):
        crt, key_path = paths.client_cert(name), paths.client_key(name)
        if _leaf_fits(plan, ca, fresh_ca, crt, key_path, [name], []):
            plan.kept += [str(crt.relative_to(paths.root)), str(key_path.relative_to(paths.root))]
            continue
        client = make_leaf(
            ca, name, purpose="client", hostnames=[name], key_type=spec.key_type, days=spec.days
        )
        plan.writes += client.planned_writes(crt, key_path)


def _leaf_fits(
    plan: _Plan,
    ca: Issued,
    fresh_ca: bool,
    cert_path: Path,
    key_path: Path,
    want_dns: list[str],
    want_ips: list[str],
) -> bool:
    """True: keep the existing pair. False: issue it. Raises when it exists but does not fit."""
    if plan.force:
        return False
    if not cert_path.exists():
        if key_path.exists():
            raise RunbookError(f"{key_path.name} exists without its certificate: pass --force to re-issue")
        return False
    cert = load_cert(cert_path)
    problem = ""
    if fresh_ca or not signed_by(cert, ca.cert):
        problem = "was not issued by this CA"
    elif not _covers(cert, want_dns, want_ips):
        problem = f"does not cover {', '.join(want_dns + want_ips)}"
    elif key_description(cert.public_key())[0] != plan.spec.key_type:
        problem = f"is not a {plan.spec.key_type} certificate"
    elif not key_path.exists():
        problem = f"has no key file {key_path.name}"
    if problem:
        raise RunbookError(
            f"{cert_path.name} exists but {problem}: pass --force to re-issue (old files are backed up)"
        )
    return True


def _covers(cert: x509.Certificate, dns: Sequence[str], ips: Sequence[str]) -> bool:
    have = set(cert_info(cert).sans)
    return {f"DNS:{d}" for d in dns} | {f"IP:{i}" for i in ips} <= have


def _write_plan(plan: _Plan) -> Path | None:
    """Write every planned file at once, after backing up the ones replaced. Writes files."""
    if not plan.writes:
        return None
    root = plan.paths.root
    files.ensure_private_dir(root)
    if (root / "clients").exists() or any(p.path.parent.name == "clients" for p in plan.writes):
        files.ensure_private_dir(root / "clients")
    backup_dir = files.backup([p.path for p in plan.writes], root)
    files.write_all(plan.writes)
    return backup_dir
