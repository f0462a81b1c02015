"""The entry point: :func:`rotate` checks its arguments, finds the nodes, gates on expiry, dispatches.

Server, client and CA rotations live in :mod:`.server_cert`, :mod:`.client_cert` and :mod:`.ca`;
a Sentinel is answered with its restart procedure (it cannot reload TLS at runtime).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

from cryptography import x509

from runbook import pki, workdir
from runbook.client import TlsClientFiles
from runbook.errors import RunbookError
from runbook.rotation.ca import rotate_ca
from runbook.rotation.client_cert import rotate_client
from runbook.rotation.commands import sentinel_procedure
from runbook.rotation.report import CA_PHASES, KINDS, Fault, RotationReport
from runbook.rotation.server_cert import rotate_server
from runbook.rotation.targets import NodeTarget, discover_node, serial_of, served_by


def rotate(
    kind: str,
    pki_dir: Path | str | None,
    nodes: Sequence[NodeTarget | tuple[str, int]],
    *,
    name: str = pki.DEFAULT_CLIENT,
    connect_as: str = pki.DEFAULT_CLIENT,
    hostnames: Sequence[str] = (),
    server_hostname: str | None = None,
    new_cert: Path | str | None = None,
    new_key: Path | str | None = None,
    days: int = 365,
    dry_run: bool = False,
    if_expiring_within: int | None = None,
    phase: str = "all",
    soak_seconds: float = 0.0,
    soak_until: Callable[[], bool] | None = None,
    soak_max_seconds: float = 60.0,
    fault: Fault | None = None,
    relink: bool = True,
    client_files: TlsClientFiles | None = None,
    ca_key: Path | str | None = None,
) -> RotationReport:
    """Rotate the ``kind`` certificate on ``nodes`` (node by node). Writes files, reloads servers.

    ``nodes`` are :class:`NodeTarget` or ``(host, port)`` pairs (their files are discovered with
    ``CONFIG GET``). ``new_cert``/``new_key`` supply the new material (default: re-issued from
    ``<pki>/ca.key`` like the current one). ``dry_run`` plans and preflights only.
    ``if_expiring_within``: do nothing (status ``not-due``) while more days are left.
    ``soak_seconds`` / ``soak_until``: keep verifying every node after the last reload (under
    load) until both are satisfied, bounded by ``soak_max_seconds``.
    ``fault="reload"`` is a drill: a mismatched key reaches the disk so the real server refuses
    the reload, and the rollback runs.
    ``client_files``: the connection identity (``--ca --cert --key``): connect with these files
    instead of ``<pki>/<connect_as>``; its CA is what the clients trust, the anchors a new chain is
    judged by. ``ca_key``: the key that signs re-issued certificates (a CA of any file name;
    default ``<pki>/ca.key``). ``pki_dir`` None: the deployment's own files only (:func:`layout`):
    a client rotation replaces ``client_files``' certificate and key, a CA rotation bundles into
    their CA file and the servers' ``tls-ca-cert-file`` and writes the new CA key over ``ca_key``;
    backups go to the work dir's ``rotation/backups``.
    """
    paths = layout(pki_dir, client_files, ca_key)
    _check_files(client_files, ca_key, new_cert, new_key)
    _check_arguments(kind, pki_dir is not None, paths, nodes, name, (new_cert, new_key), days, phase)
    signer = Path(ca_key) if ca_key else (paths.ca_key if pki_dir and paths.ca_key.is_file() else None)

    def tls() -> TlsClientFiles:
        return client_files or TlsClientFiles.from_pki(paths.root, connect_as)

    targets = [
        n
        if isinstance(n, NodeTarget)
        else discover_node(n[0], int(n[1]), tls(), server_hostname=server_hostname)
        for n in nodes
    ]
    report = RotationReport(kind=kind, target=targets[0].endpoint.address, nodes=[n.name for n in targets])
    if any(n.mode == "sentinel" for n in targets):
        return _sentinel_report(report, targets[0], paths)
    current = _current_cert(kind, paths, targets, tls(), server_hostname, name)
    if not _due(report, current, if_expiring_within):
        return report
    if kind == "ca":
        return rotate_ca(report, paths, targets, tls, server_hostname, days, dry_run, phase, fault, relink)
    if kind == "client":
        return rotate_client(
            report, paths, targets, tls, server_hostname, name, new_cert, new_key, days, dry_run, fault
        )
    return rotate_server(
        report, paths, targets, tls, server_hostname, hostnames, new_cert, new_key, days, dry_run,
        soak_seconds, soak_until, soak_max_seconds, fault, relink, signer,
    )  # fmt: skip


def layout(
    pki_dir: Path | str | None, client_files: TlsClientFiles | None, ca_key: Path | str | None
) -> pki.PkiPaths:
    """Where a rotation's files are: ``pki_dir`` (the runbook's own layout) or the operator's files
    (``client_files`` and ``ca_key``; backups and staged files in the work dir's ``rotation``)."""
    if pki_dir:
        return pki.PkiPaths(Path(pki_dir))
    root = workdir.work_dir() / "rotation"
    if client_files is None:
        return pki.PkiPaths(root)
    return pki.PkiPaths.operator(root, client_files.ca, ca_key, client_files.cert, client_files.key)


def _check_arguments(
    kind: str,
    from_dir: bool,
    paths: pki.PkiPaths,
    nodes: Sequence[object],
    name: str,
    new: tuple[Path | str | None, Path | str | None],
    days: int,
    phase: str,
) -> None:
    """Refuse, with a one-line fix, every argument mistake before anything connects."""
    if kind not in KINDS:
        raise RunbookError(f"unknown rotation {kind!r}: choose server, client or ca")
    if not nodes:
        raise RunbookError("no node to rotate: pass --host and --port")
    new_cert, new_key = new
    if from_dir and not paths.ca_cert.is_file():
        raise RunbookError(
            f"--dir {paths.root} holds no ca.crt: pass the files the deployment uses with --ca --cert --key "
            "(and --ca-key or --new-cert/--new-key), or the directory notebook 01 wrote"
        )
    if not from_dir:
        _check_operator_files(kind, paths, name, new_cert is not None)
    pki.validate_days(days, "certificate validity (--days)")
    if kind == "client" and paths.own:
        pki.validate_client_name(name)
        if not paths.client_cert(name).is_file():
            known = ", ".join(paths.client_names()) or "none"
            raise RunbookError(
                f"no client certificate {name!r} in {paths.root / 'clients'} (there: {known}): pass --name with one of them"
            )
    if (new_cert is None) != (new_key is None):
        raise RunbookError("pass --new-cert and --new-key together (the new certificate and its key)")
    if new_cert is not None and kind == "ca":
        raise RunbookError(
            "--new-cert/--new-key apply to server and client rotations: the CA rotation issues its own"
        )
    if phase != "all" and phase not in CA_PHASES:
        raise RunbookError(f"unknown CA phase {phase!r}: choose all, bundle, reissue or retire")


def _check_operator_files(kind: str, paths: pki.PkiPaths, name: str, supplied: bool) -> None:
    """Client and CA rotations on the operator's files (no --dir): what each needs, one line when missing."""
    if kind == "server":
        return
    if paths.own or paths.client_files is None:
        raise RunbookError(
            f"a {kind} rotation without --dir works on the identity you connect with: pass --cert and --key "
            "(with --ca), or --dir for the runbook's own layout"
        )
    if kind == "client" and name != pki.DEFAULT_CLIENT:
        raise RunbookError(
            "--name picks a client of the --dir layout: without --dir the client rotated is --cert/--key"
        )
    has_key = paths.ca_key_file is not None and paths.ca_key_file.is_file()
    if kind == "client" and not (supplied or has_key):
        raise RunbookError(
            "a client rotation needs new material: pass --ca-key (the key of the CA that issues --cert) "
            "or --new-cert/--new-key (a renewed pair)"
        )
    if kind == "ca" and not has_key:
        raise RunbookError(
            "a CA rotation needs the current CA's key: pass --ca-key (the key of the CA in --ca); the new CA's "
            "key is written over it, the old one backed up"
        )


_WHAT = {
    "--ca": "the CA file your clients trust (redis-cli --cacert)",
    "--cert": "the client certificate to connect with (redis-cli --cert)",
    "--key": "its private key (redis-cli --key)",
    "--ca-key": "the key of the CA that issues the server certificate",
    "--new-cert": "the renewed certificate file (leaf first, then its intermediates)",
    "--new-key": "the renewed certificate's private key",
}


def _check_files(
    client_files: TlsClientFiles | None,
    ca_key: Path | str | None,
    new_cert: Path | str | None,
    new_key: Path | str | None,
) -> None:
    """A named file that is not there: one line naming the flag, the path and what to pass instead."""
    named = [("--ca-key", ca_key), ("--new-cert", new_cert), ("--new-key", new_key)]
    if client_files is not None:
        named = [
            ("--ca", client_files.ca),
            ("--cert", client_files.cert),
            ("--key", client_files.key),
            *named,
        ]
    for flag, value in named:
        if value and not Path(value).is_file():
            raise RunbookError(f"{flag} {value} not found: pass {_WHAT[flag]}")


def _sentinel_report(report: RotationReport, first: NodeTarget, paths: pki.PkiPaths) -> RotationReport:
    report.status, report.ok = "unsupported", False
    report.add(
        "sentinel",
        "fail",
        "Redis Sentinel cannot reload TLS files at runtime (no CONFIG SET for TLS)",
        "follow the restart procedure, one Sentinel at a time",
    )
    report.commands = sentinel_procedure(first, paths)
    return report


def _due(report: RotationReport, current: x509.Certificate, if_expiring_within: int | None) -> bool:
    """Record the current serial and days left; False (status ``not-due``) while above the threshold."""
    report.old_serial = serial_of(current)
    report.days_left = (current.not_valid_after_utc - dt.datetime.now(dt.UTC)).days
    if if_expiring_within is None:
        return True
    if if_expiring_within < 0:
        raise RunbookError("--if-expiring-within needs a number of days >= 0, e.g. 30")
    due = report.days_left < if_expiring_within
    report.add(
        "due", "pass" if due else "skip", f"{report.days_left} days left, threshold {if_expiring_within}"
    )
    if not due:
        report.status = "not-due"
    return due


def _current_cert(
    kind: str,
    paths: pki.PkiPaths,
    targets: Sequence[NodeTarget],
    tls: TlsClientFiles,
    server_hostname: str | None,
    name: str,
) -> x509.Certificate:
    if kind == "client":
        return pki.load_cert(paths.client_cert(name))
    if kind == "ca":
        return pki.load_certs(paths.ca_cert)[-1]
    served = [served_by(n, tls, server_hostname) for n in targets]
    return min(served, key=lambda c: c.not_valid_after_utc)
