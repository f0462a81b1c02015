"""Zero-downtime certificate rotation: plan -> preflight -> backup -> swap -> reload -> verify -> rollback.

Redis never re-reads certificate files on its own: it reloads them when ``CONFIG SET`` names a
TLS file (naming the same path re-reads it), and ``CONFIG SET tls-cert-file A tls-key-file B``
swaps both in one atomic call (a failed call leaves the old TLS context serving). There is no
``DEBUG RELOAD-TLS``. Connections opened before a reload keep their session; new handshakes get
the new certificate.

One rotation works over a list of nodes (:class:`NodeTarget`: host, port, the paths the server
reads, and the outgoing-link ``tls-client-cert-file``/``tls-client-key-file`` when set), node by
node, each verified before the next:

1. **plan** every file written and every server command (a dry run stops here, after preflight);
2. **preflight** the new material: key matches, chains (strict X.509) to the CA that the clients
   and the server trust, SANs cover every name the old certificate covered and the names clients
   use, validity window contains now, the right extended key usage. Nothing is touched on failure;
3. **backup** every file about to change to ``<pki>/backups/<UTC stamp>/``;
4. **swap**: the new files are staged beside the old and renamed over them (atomic, keys 0600);
5. **reload** with ONE ``CONFIG SET`` naming the node's TLS files;
6. **verify**: a fresh strict handshake presents the new serial, a connection opened before the
   reload still answers on the same connection, replication links come back up (re-linked with
   the new certificates), a cluster stays ``ok``;
7. **rollback** when reload or verification fails: the backup is restored byte for byte and every
   node touched so far is reloaded and shown serving its old certificate again.

A server whose files we cannot see (the certificate it presents is not the file at the path it
reports) is an *external* target: the new files are written to the PKI directory and the exact
deploy and reload commands are returned, with :func:`verify_served` to run afterwards. Sentinel
cannot reload TLS at runtime: :func:`sentinel_procedure` gives the restart procedure.
The CA rotates in phases: ``bundle`` (old + new CA trusted everywhere), ``reissue`` (leaves from
the new CA), ``retire`` (the old CA removed), each verified.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import shlex
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from runbook import files, pki
from runbook.client import TlsClientFiles, redis_client, tls_context
from runbook.errors import RunbookError
from runbook.results import CheckResult, all_ok

Kind = Literal["server", "client", "ca"]
KINDS: tuple[str, ...] = ("server", "client", "ca")
CA_PHASES: tuple[str, ...] = ("bundle", "reissue", "retire")
Fault = Literal["reload"]
LINK_TIMEOUT = 20.0

# --------------------------------------------------------------------------- data


@dataclass
class NodeTarget:
    """One Redis node to rotate: where it listens and the TLS files it reads (its own paths)."""

    name: str
    host: str
    port: int
    cert_file: str = ""
    key_file: str = ""
    ca_file: str = ""
    client_cert_file: str = ""
    client_key_file: str = ""
    server_dir: str = ""
    mode: str = "standalone"  # standalone | cluster | sentinel
    role: str = "master"  # master | slave
    master_port: int = 0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def local(self, path: str) -> Path:
        """A path as the server reads it, resolved on this machine (relative paths: the server's dir)."""
        p = Path(path)
        return p if p.is_absolute() else Path(self.server_dir or ".") / p


@dataclass(frozen=True)
class PlanStep:
    """One planned action: what, on which file or node, and why."""

    step: str
    target: str
    detail: str


@dataclass
class RotationReport:
    """What a rotation did, step by step; renders as a table, serialises to JSON."""

    kind: str
    target: str
    status: str = "planned"  # planned|rotated|not-due|refused|rolled-back|pending|unsupported
    ok: bool = True
    rolled_back: bool = False
    old_serial: str = ""
    new_serial: str = ""
    backup: str | None = None
    days_left: int | None = None
    nodes: list[str] = field(default_factory=list)
    plan: list[PlanStep] = field(default_factory=list)
    steps: list[CheckResult] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    phases: list[RotationReport] = field(default_factory=list)

    def add(self, step: str, status: str, detail: str, fix: str = "") -> CheckResult:
        result = CheckResult(step, status, detail, fix)  # type: ignore[arg-type]
        self.steps.append(result)
        return result

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def evidence(self) -> list[dict[str, Any]]:
        """The ``rotation`` evidence entries of the summary record (one per phase for the CA)."""
        parts = self.phases or [self]
        return [
            {
                "kind": p.kind,
                "old_serial": p.old_serial,
                "new_serial": p.new_serial,
                "ok": p.ok,
                "rolled_back": p.rolled_back,
                "status": p.status,
            }
            for p in parts
        ]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- talking to servers


def _admin(node: NodeTarget, tls: TlsClientFiles, server_hostname: str | None = None) -> redis.Redis:
    return redis_client(
        server_hostname or node.host, node.port, tls, socket_timeout=5.0, single_connection_client=True
    )


def served_certificate(
    host: str, port: int, tls: TlsClientFiles, server_hostname: str | None = None, timeout: float = 5.0
) -> x509.Certificate:
    """The certificate a fresh strict mutual-TLS handshake to ``host:port`` is presented. Connects."""
    ctx = tls_context(tls)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=server_hostname or host) as sock,
        ):
            der = sock.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        raise RunbookError(
            f"TLS handshake with {host}:{port} failed ({' '.join(str(exc).split())}): "
            "check the address, the CA and the client certificate"
        ) from None
    if not der:
        raise RunbookError(f"{host}:{port} presented no certificate: is it a TLS port?")
    return x509.load_der_x509_certificate(der)


def serial_of(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "X")


def _fingerprint(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


def _call(client: redis.Redis, *args: Any) -> Any:
    """``execute_command`` with redis-py's reply parsing (INFO -> dict, CONFIG GET -> dict, ...)."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


def _info(client: redis.Redis, section: str) -> dict[str, Any]:
    data: dict[str, Any] = client.info(section)  # type: ignore[assignment]
    return data


def nodes_from_sandbox(box: Any, tls: TlsClientFiles) -> list[NodeTarget]:
    """The nodes of a running :class:`runbook.sandbox.Sandbox`, named as the sandbox names them."""
    return [discover_node(n.host, n.port, tls, name=n.name, server_hostname="localhost") for n in box.nodes]


def discover_node(
    host: str, port: int, tls: TlsClientFiles, name: str = "", server_hostname: str | None = None
) -> NodeTarget:
    """Ask a running server which TLS files it reads (``CONFIG GET``) and its role. Connects."""
    node = NodeTarget(name or f"{host}:{port}", host, port)
    client = _admin(node, tls, server_hostname)
    try:
        server = _info(client, "server")
        node.mode = str(server.get("redis_mode", "standalone"))
        if node.mode == "sentinel":
            return node
        repl = _info(client, "replication")
        try:
            config: dict[str, str] = {**client.config_get("tls-*"), **client.config_get("dir")}  # type: ignore[dict-item]
        except redis.ResponseError:
            config = {}  # CONFIG renamed or denied: an external target whose paths we cannot see
    except (redis.RedisError, OSError) as exc:
        raise RunbookError(
            f"cannot read the role of {host}:{port} ({' '.join(str(exc).split())}): "
            "the client certificate must be allowed INFO"
        ) from None
    finally:
        client.close()
    node.cert_file = config.get("tls-cert-file", "")
    node.key_file = config.get("tls-key-file", "")
    node.ca_file = config.get("tls-ca-cert-file", "")
    node.client_cert_file = config.get("tls-client-cert-file", "")
    node.client_key_file = config.get("tls-client-key-file", "")
    node.server_dir = config.get("dir", "")
    node.role = str(repl.get("role", "master"))
    node.master_port = int(repl.get("master_port", 0) or 0)
    return node


def reload_tls(client: redis.Redis, settings: Sequence[tuple[str, str]]) -> None:
    """Reload TLS with ONE ``CONFIG SET`` naming every file in ``settings``. Touches the server.

    Redis 7 takes several parameters in one atomic call. Redis 6.2 takes one: naming any TLS
    file re-reads all of them, so the first one is enough there.
    """
    args = [part for pair in settings for part in pair]
    try:
        _call(client, "CONFIG", "SET", *args)
    except redis.ResponseError as exc:
        if len(settings) > 1 and "number of arguments" in str(exc).lower():
            _call(client, "CONFIG", "SET", *settings[0])
        else:
            raise


# --------------------------------------------------------------------------- issuing


def reissue_like(
    old: x509.Certificate, ca: pki.Issued, *, days: int = 365, key_type: str | None = None
) -> pki.Issued:
    """A new certificate with ``old``'s subject, SANs, key usages and EKUs, a new key, signed by ``ca``.

    In memory; nothing written. Keeps serverAuth+clientAuth when the old one had both (a server
    certificate also used for replication or cluster links).
    """
    pki.validate_days(days, "certificate validity")
    kt = key_type or pki.key_description(old.public_key())[0]
    key = pki.generate_key(kt if kt in pki.KEY_TYPES else "ecdsa-p256")
    start = dt.datetime.now(dt.UTC) - pki.BACKDATE
    ca_ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + pki.BACKDATE + dt.timedelta(days=days))
    )
    for ext in old.extensions:
        if isinstance(ext.value, x509.SubjectKeyIdentifier | x509.AuthorityKeyIdentifier):
            continue
        builder = builder.add_extension(ext.value, critical=ext.critical)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False
    )
    return pki.Issued(builder.sign(ca.key, hashes.SHA256()), key)


def _load_ca(paths: pki.PkiPaths) -> pki.Issued:
    cert = pki.load_cert(paths.ca_cert)
    key = pki.load_key(paths.ca_key, pki.passphrase_from_env(pki.CA_ENV) if _ca_encrypted(paths) else None)
    if not pki.key_matches(cert, key):
        raise RunbookError(
            "ca.key does not match the first certificate of ca.crt: restore the pair from backups/"
        )
    return pki.Issued(cert, key)


def _ca_encrypted(paths: pki.PkiPaths) -> bool:
    return paths.ca_key.is_file() and pki.key_is_encrypted(paths.ca_key)


def _load_supplied(
    cert_path: Path, key_path: Path
) -> tuple[x509.Certificate, bytes, bytes, pki.PrivateKey | None]:
    cert = pki.load_cert(cert_path)
    key_pem = Path(key_path).read_bytes() if Path(key_path).is_file() else b""
    if not key_pem:
        raise RunbookError(f"key file {key_path} not found: pass the new certificate's key with --key")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (TypeError, ValueError):
        raise RunbookError(f"{key_path} is not an unencrypted PEM private key: decrypt it first") from None
    ok_key = key if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) else None
    return cert, Path(cert_path).read_bytes(), key_pem, ok_key


# --------------------------------------------------------------------------- preflight


def _names_of(cert: x509.Certificate) -> list[str]:
    return [s.split(":", 1)[1] for s in pki.cert_info(cert).sans]


def preflight_leaf(
    prefix: str,
    new: x509.Certificate,
    key: pki.PrivateKey | None,
    *,
    purpose: Literal["server", "client"],
    client_trust: Sequence[x509.Certificate],
    server_trust: Sequence[x509.Certificate],
    names: Sequence[str] = (),
    old: x509.Certificate | None = None,
    needs_client_auth: bool = False,
) -> list[CheckResult]:
    """Check new material before anything is touched. Reads nothing, writes nothing.

    ``client_trust``: the CA(s) the clients trust (they verify a server certificate);
    ``server_trust``: the CA(s) the server trusts (it verifies client and link certificates).
    """
    out: list[CheckResult] = []
    now = dt.datetime.now(dt.UTC)

    def add(check: str, ok: bool, detail: str, fix: str) -> None:
        out.append(CheckResult(f"{prefix}{check}", "pass" if ok else "fail", detail, "" if ok else fix))

    add(
        "key-match",
        key is not None and pki.key_matches(new, key),
        "the new key is the private half of the new certificate"
        if key is not None and pki.key_matches(new, key)
        else "the new key does not belong to the new certificate",
        "pass the key that was issued with this certificate",
    )
    in_window = new.not_valid_before_utc <= now < new.not_valid_after_utc
    add(
        "validity",
        in_window,
        f"valid now, {(new.not_valid_after_utc - now).days} days left"
        if in_window
        else ("expired" if new.not_valid_after_utc <= now else "not valid yet"),
        "issue a certificate whose validity window contains now (check the clock)",
    )
    info = pki.cert_info(new)
    wanted_eku = "serverAuth" if purpose == "server" else "clientAuth"
    ekus = [wanted_eku] + (["clientAuth"] if needs_client_auth and purpose == "server" else [])
    missing_eku = [e for e in ekus if e not in info.eku]
    add(
        "eku",
        not missing_eku,
        f"extended key usage {', '.join(info.eku) or 'none'}",
        f"issue it with {', '.join(missing_eku)}",
    )
    trust = client_trust if purpose == "server" else server_trust
    if purpose == "server":
        want = list(dict.fromkeys([*(names or ()), *(_names_of(old) if old is not None else [])]))
        have = set(_names_of(new))
        missing = [n for n in want if n not in have and not _wildcard_covers(have, n)]
        add(
            "sans",
            not missing,
            f"covers {', '.join(want)}" if not missing else f"does not cover {', '.join(missing)}",
            "re-issue it with every name clients use in subjectAltName",
        )
        try:
            pki.verify_server_cert(new, trust, (want or _names_of(new) or ["localhost"])[0])
            add("chain", True, "chains to the CA the clients trust (strict X.509)", "")
        except RunbookError as exc:
            add("chain", False, str(exc), "issue it from the CA in ca.crt")
        if needs_client_auth:
            try:
                pki.verify_client_cert(new, server_trust)
                add("link-chain", True, "valid as a link client for the servers' CA", "")
            except RunbookError as exc:
                add("link-chain", False, str(exc), "issue it from the CA the servers trust")
    else:
        try:
            pki.verify_client_cert(new, trust)
            add("chain", True, "chains to the CA the server trusts (strict X.509)", "")
        except RunbookError as exc:
            add("chain", False, str(exc), "issue it from the CA in the server's tls-ca-cert-file")
    return out


def _wildcard_covers(have: set[str], name: str) -> bool:
    parts = name.split(".", 1)
    return len(parts) == 2 and f"*.{parts[1]}" in have


def _trust_of(path: Path) -> list[x509.Certificate]:
    try:
        return pki.load_certs(path)
    except RunbookError:
        return []


# --------------------------------------------------------------------------- the engine


@dataclass
class _NodeWork:
    node: NodeTarget
    writes: list[files.PlannedWrite]
    settings: list[tuple[str, str]]
    expect: x509.Certificate | None  # certificate the node must present after the reload
    old: x509.Certificate | None
    relink: bool = False


class _Rotation:
    """Shared machinery: backup, per-node swap + reload + verify, rollback."""

    def __init__(
        self,
        report: RotationReport,
        paths: pki.PkiPaths,
        tls: Callable[[], TlsClientFiles],
        nodes: Sequence[NodeTarget],
        server_hostname: str | None,
        fault: Fault | None,
        relink: bool,
    ) -> None:
        self.report, self.paths, self.tls = report, paths, tls
        self.nodes = list(nodes)
        self.server_hostname = server_hostname
        self.fault = fault
        self.relink = relink
        self.clients: dict[str, redis.Redis] = {}
        self.backup_dir: Path | None = None
        self.done: list[_NodeWork] = []
        self.root: Path = paths.root
        self.client_ids: dict[str, int] = {}

    def hostname(self, node: NodeTarget) -> str:
        return self.server_hostname or node.host

    # -- connections opened before any reload; they must survive it
    def open_sentinels(self) -> None:
        for node in self.nodes:
            c = _admin(node, self.tls(), self.server_hostname)
            self.clients[node.name] = c
            current: Any = c.client_id()
            self.client_ids[node.name] = int(current)

    def close(self) -> None:
        for c in self.clients.values():
            with contextlib.suppress(Exception):
                c.close()

    def backup(self, work: Sequence[_NodeWork], extra: Sequence[Path] = ()) -> tuple[Path | None, Path]:
        targets = list(dict.fromkeys([w.path for nw in work for w in nw.writes] + list(extra)))
        root = (
            Path(os.path.commonpath([str(p.resolve().parent) for p in targets]))
            if targets
            else self.paths.root
        )
        backup_dir = files.backup([p.resolve() for p in targets], root, self.paths.root / "backups")
        self.report.backup = str(backup_dir) if backup_dir else None
        self.report.add("backup", "pass", f"{len(targets)} files copied to backups/<UTC stamp>/ (modes kept)")
        return backup_dir, root

    def run(self, work: Sequence[_NodeWork], extra_writes: Sequence[files.PlannedWrite] = ()) -> bool:
        """Swap, reload and verify node by node; roll everything back on the first failure."""
        backup_dir, root = self.backup(work, [w.path for w in extra_writes])
        self.backup_dir, self.root = backup_dir, root
        written: set[Path] = set()
        done: list[_NodeWork] = []
        try:
            if extra_writes:
                files.write_all(list(extra_writes))
                written.update(w.path.resolve() for w in extra_writes)
                self.report.add(
                    "swap:clients", "pass", f"{len(extra_writes)} client files renamed into place"
                )
            for nw in work:
                done.append(nw)
                pending = [w for w in nw.writes if w.path.resolve() not in written]
                if pending:
                    files.write_all(pending)
                    written.update(w.path.resolve() for w in pending)
                self.report.add(
                    f"swap:{nw.node.name}",
                    "pass",
                    f"{len(pending)} files staged beside the old ones and renamed over them"
                    if pending
                    else "files already in place (shared with an earlier node)",
                )
                if self.fault == "reload" and nw is work[0]:
                    self._inject_reload_fault(nw)
                if not self._reload(nw) or not self._verify(nw):
                    raise _Failed()
        except _Failed:
            self._rollback(done, backup_dir, root)
            return False
        except (OSError, RunbookError, redis.RedisError) as exc:
            self.report.add(
                "error", "fail", " ".join(str(exc).split())[:200], "rolled back; fix the cause and retry"
            )
            self._rollback(done, backup_dir, root)
            return False
        self.done = done
        return True

    def _inject_reload_fault(self, nw: _NodeWork) -> None:
        """Drill: a key that does not match lands on disk between preflight and reload."""
        key_path = nw.node.local(nw.node.key_file)
        stray = pki.generate_key("ecdsa-p256").private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        files.write_file(key_path, stray, files.PRIVATE)
        self.report.add("drill:reload-fault", "warn", "a mismatched key was put on disk before the reload")

    def _reload(self, nw: _NodeWork) -> bool:
        if not nw.settings:
            return True
        client = self.clients[nw.node.name]
        names = " ".join(k for k, _ in nw.settings)
        try:
            reload_tls(client, nw.settings)
        except redis.RedisError as exc:
            self.report.add(
                f"reload:{nw.node.name}",
                "fail",
                f"CONFIG SET {names} refused: {' '.join(str(exc).split())[:160]}",
                "the backup is restored automatically; read the server log",
            )
            return False
        self.report.add(f"reload:{nw.node.name}", "pass", f"one CONFIG SET {names}")
        return True

    def _verify(self, nw: _NodeWork, *, prefix: str = "verify") -> bool:
        node, ok = nw.node, True
        if nw.expect is not None:
            try:
                served = served_certificate(node.host, node.port, self.tls(), self.hostname(node))
                same = _fingerprint(served) == _fingerprint(nw.expect)
            except RunbookError as exc:
                same, served = False, None
                self.report.add(f"{prefix}:{node.name}:handshake", "fail", str(exc), "rolled back")
            if served is not None:
                self.report.add(
                    f"{prefix}:{node.name}:serial",
                    "pass" if same else "fail",
                    f"a fresh strict handshake presents the {'old' if prefix == 'rollback' else 'new'} certificate"
                    if same
                    else "a fresh handshake presents another certificate",
                    "" if same else "rolled back; read the server log",
                )
            ok = ok and same
        ok = self._check_old_connection(node, prefix) and ok
        ok = self._check_links(node, relink=self.relink and nw.relink, prefix=prefix) and ok
        return ok

    def _check_old_connection(self, node: NodeTarget, prefix: str) -> bool:
        client = self.clients.get(node.name)
        if client is None:
            return True
        try:
            current: Any = client.client_id()
            same = bool(client.ping()) and int(current) == self.client_ids[node.name]
        except (redis.RedisError, OSError):
            same = False
        self.report.add(
            f"{prefix}:{node.name}:old-connection",
            "pass" if same else "fail",
            "a connection opened before the reload still answers (same CLIENT ID)"
            if same
            else "the connection opened before the reload was dropped",
            "" if same else "clients were disconnected: investigate before retrying",
        )
        return same

    def _check_links(self, node: NodeTarget, *, relink: bool, prefix: str) -> bool:
        """Replicas of ``node`` (and ``node`` itself as a replica) re-link and reach ``up``."""
        ok = True
        for other in self.nodes:
            is_link = other.role == "slave" and (other is node or other.master_port == node.port)
            if not is_link:
                continue
            client = self.clients[other.name]
            try:
                if relink:
                    _call(client, "CLIENT", "KILL", "TYPE", "master")
                up = _wait_link_up(client, LINK_TIMEOUT)
            except (redis.RedisError, OSError):
                up = False
            how = "re-linked with the new certificates, " if relink else ""
            self.report.add(
                f"{prefix}:{other.name}:replication",
                "pass" if up else "fail",
                f"{how}master_link_status:up" if up else "master_link_status is not up",
                "" if up else "check tls-replication and the link certificates (clientAuth)",
            )
            ok = ok and up
        if node.mode == "cluster":
            try:
                state = str(_info(self.clients[node.name], "cluster").get("cluster_enabled", 0))
                cluster_ok = "cluster_state:ok" in str(_call(self.clients[node.name], "CLUSTER", "INFO"))
            except (redis.RedisError, OSError):
                state, cluster_ok = "?", False
            self.report.add(
                f"{prefix}:{node.name}:cluster",
                "pass" if cluster_ok else "fail",
                "cluster_state:ok" if cluster_ok else f"cluster not ok ({state})",
                "" if cluster_ok else "check tls-cluster and the bus certificates",
            )
            ok = ok and cluster_ok
        return ok

    def _rollback(self, done: Sequence[_NodeWork], backup_dir: Path | None, root: Path) -> None:
        self.report.rolled_back = True
        if backup_dir is not None:
            restored = files.restore(backup_dir, root)
            self.report.add("rollback:restore", "pass", f"{len(restored)} files restored byte for byte")
        for nw in done:
            back = _NodeWork(nw.node, [], nw.settings, nw.old, nw.old, nw.relink)
            if not nw.settings:
                continue
            try:
                reload_tls(self.clients[nw.node.name], nw.settings)
                self.report.add(
                    f"rollback:{nw.node.name}:reload", "pass", "old files reloaded with one CONFIG SET"
                )
            except redis.RedisError as exc:
                self.report.add(
                    f"rollback:{nw.node.name}:reload",
                    "fail",
                    f"reload of the restored files refused: {' '.join(str(exc).split())[:120]}",
                    f"restore from {backup_dir} by hand and reload",
                )
            self._verify(back, prefix="rollback")


class _Failed(Exception):
    pass


def _wait_link_up(client: redis.Redis, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _info(client, "replication").get("master_link_status") == "up":
            return True
        time.sleep(0.1)
    return False


# --------------------------------------------------------------------------- sentinel / external


def sentinel_procedure(node: NodeTarget, paths: pki.PkiPaths) -> list[str]:
    """The restart procedure for a Sentinel (it cannot reload TLS files at runtime)."""
    cli = _cli(node, paths)
    return [
        "# Sentinel reads its TLS files only at start: rotate by restarting each Sentinel in turn.",
        f"# 1. put the new files in place on the Sentinel host (keep the old ones: cp -p {paths.server_cert} {paths.server_cert}.bak)",
        f"# 2. check the quorum first: {cli} SENTINEL CKQUORUM <master-name>",
        "# 3. restart this Sentinel only (its config file keeps its state): systemctl restart redis-sentinel",
        f"# 4. verify it answers over TLS with the new certificate: {cli} PING",
        f"# 5. verify it sees the master again before the next one: {cli} SENTINEL MASTERS",
        "# 6. repeat for the next Sentinel; never restart a majority at once",
    ]


def _cli(node: NodeTarget, paths: pki.PkiPaths, client: str = pki.DEFAULT_CLIENT) -> str:
    return (
        f"redis-cli -h {node.host} -p {node.port} --tls --cacert {shlex.quote(str(paths.ca_cert))} "
        f"--cert {shlex.quote(str(paths.client_cert(client)))} --key {shlex.quote(str(paths.client_key(client)))}"
    )


def deploy_commands(node: NodeTarget, paths: pki.PkiPaths, host_alias: str = "") -> list[str]:
    """Exact commands to deploy the new server files to a server that reads its own paths, and reload it."""
    cert, key = node.cert_file or "<tls-cert-file>", node.key_file or "<tls-key-file>"
    dest = f"{host_alias}:" if host_alias else ""
    return [
        "# on the Redis host, as the user redis runs as; the paths are the server's own (CONFIG GET tls-*)",
        f"cp -p {shlex.quote(cert)} {shlex.quote(cert)}.bak && cp -p {shlex.quote(key)} {shlex.quote(key)}.bak",
        f"install -m 0644 {shlex.quote(str(paths.server_cert))} {dest}{shlex.quote(cert)}.new && mv {shlex.quote(cert)}.new {shlex.quote(cert)}",
        f"install -m 0600 {shlex.quote(str(paths.server_key))} {dest}{shlex.quote(key)}.new && mv {shlex.quote(key)}.new {shlex.quote(key)}",
        f"{_cli(node, paths)} CONFIG SET tls-cert-file {shlex.quote(cert)} tls-key-file {shlex.quote(key)}",
        f"python -m runbook rotate verify --dir {shlex.quote(str(paths.root))} --host {node.host} --port {node.port}",
    ]


def verify_served(
    host: str,
    port: int,
    pki_dir: Path | str,
    *,
    server_hostname: str | None = None,
    client: str = pki.DEFAULT_CLIENT,
) -> list[CheckResult]:
    """After an external deploy: the server presents ``<pki>/redis-server.crt`` and serves mutual TLS."""
    paths = pki.PkiPaths(Path(pki_dir))
    tls = TlsClientFiles.from_pki(paths.root, client)
    expected = pki.load_cert(paths.server_cert)
    served = served_certificate(host, port, tls, server_hostname)
    same = _fingerprint(served) == _fingerprint(expected)
    results = [
        CheckResult(
            "served-certificate",
            "pass" if same else "fail",
            f"presents serial {serial_of(served)}" + ("" if same else f", expected {serial_of(expected)}"),
            "" if same else "deploy the files and run the CONFIG SET reload command",
        )
    ]
    try:
        c = redis_client(server_hostname or host, port, tls)
        c.ping()
        c.close()
        results.append(CheckResult("mutual-tls-ping", "pass", "PING answered over mutual TLS"))
    except (redis.RedisError, OSError) as exc:
        results.append(
            CheckResult("mutual-tls-ping", "fail", " ".join(str(exc).split()), "check the client files")
        )
    return results


# --------------------------------------------------------------------------- entry point


def rotate(
    kind: str,
    pki_dir: Path | str,
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
    ``client_files``: connect with these files instead of ``<pki>/<connect_as>`` (an external target).
    """
    if kind not in KINDS:
        raise RunbookError(f"unknown rotation {kind!r}: choose server, client or ca")
    if not nodes:
        raise RunbookError("no node to rotate: pass --host and --port")
    paths = pki.PkiPaths(Path(pki_dir))
    if not paths.ca_cert.is_file():
        raise RunbookError(f"{paths.ca_cert} not found: pass the PKI directory with --dir (notebook 01)")
    pki.validate_days(days, "certificate validity (--days)")
    if kind == "client":
        pki.validate_client_name(name)
        if not paths.client_cert(name).is_file():
            raise RunbookError(
                f"no client certificate {name!r} in {paths.root}: issue it with `runbook pki create --client {name}`"
            )
    if (new_cert is None) != (new_key is None):
        raise RunbookError("pass --cert and --key together (the new certificate and its key)")
    if new_cert is not None and kind == "ca":
        raise RunbookError(
            "--cert/--key apply to server and client rotations: the CA rotation issues its own"
        )
    if phase != "all" and phase not in CA_PHASES:
        raise RunbookError(f"unknown CA phase {phase!r}: choose all, bundle, reissue or retire")

    def tls() -> TlsClientFiles:
        return client_files or TlsClientFiles.from_pki(paths.root, connect_as)

    targets = [
        n
        if isinstance(n, NodeTarget)
        else discover_node(n[0], int(n[1]), tls(), server_hostname=server_hostname)
        for n in nodes
    ]
    first = targets[0]
    report = RotationReport(kind=kind, target=first.address, nodes=[n.name for n in targets])

    if any(n.mode == "sentinel" for n in targets):
        report.status, report.ok = "unsupported", False
        report.add(
            "sentinel",
            "fail",
            "Redis Sentinel cannot reload TLS files at runtime (no CONFIG SET for TLS)",
            "follow the restart procedure, one Sentinel at a time",
        )
        report.commands = sentinel_procedure(first, paths)
        return report

    # expiry gate
    current = _current_cert(kind, paths, targets, tls(), server_hostname, name)
    report.old_serial = serial_of(current)
    report.days_left = (current.not_valid_after_utc - dt.datetime.now(dt.UTC)).days
    if if_expiring_within is not None:
        if if_expiring_within < 0:
            raise RunbookError("--if-expiring-within needs a number of days >= 0, e.g. 30")
        due = report.days_left < if_expiring_within
        report.add(
            "due",
            "pass" if due else "skip",
            f"{report.days_left} days left, threshold {if_expiring_within}",
        )
        if not due:
            report.status = "not-due"
            return report

    if kind == "ca":
        return _rotate_ca(report, paths, targets, tls, server_hostname, days, dry_run, phase, fault, relink)
    if kind == "client":
        return _rotate_client(
            report, paths, targets, tls, server_hostname, name, new_cert, new_key, days, dry_run, fault
        )
    return _rotate_server(
        report,
        paths,
        targets,
        tls,
        server_hostname,
        hostnames,
        new_cert,
        new_key,
        days,
        dry_run,
        soak_seconds,
        soak_until,
        soak_max_seconds,
        fault,
        relink,
    )


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
    served = [served_certificate(n.host, n.port, tls, server_hostname or n.host) for n in targets]
    return min(served, key=lambda c: c.not_valid_after_utc)


def _stop_after_preflight(report: RotationReport, checks: list[CheckResult], dry_run: bool) -> bool:
    """Record the preflight; True when the rotation stops here (refused, or a dry run that is planned)."""
    report.steps += checks
    if not all_ok(checks):
        report.status, report.ok = "refused", False
        report.add(
            "preflight", "fail", "refused before anything was touched", "fix the new certificate and retry"
        )
        return True
    report.add("preflight", "pass", f"{len(checks)} checks passed")
    if dry_run:
        report.status = "planned"
        return True
    return False


def _managed(node: NodeTarget, served: x509.Certificate) -> bool:
    """True when the server reads files we can see: the file at its cert path is what it presents."""
    if not node.cert_file or not node.key_file:
        return False
    cert_path, key_path = node.local(node.cert_file), node.local(node.key_file)
    if not (cert_path.is_file() and key_path.is_file() and os.access(cert_path.parent, os.W_OK)):
        return False
    try:
        return _fingerprint(pki.load_cert(cert_path)) == _fingerprint(served)
    except RunbookError:
        return False


def _soak(
    rot: _Rotation, work: Sequence[_NodeWork], seconds: float, until: Callable[[], bool] | None, limit: float
) -> bool:
    if seconds <= 0 and until is None:
        return True
    t0 = time.monotonic()
    rounds, ok = 0, True
    while True:
        for nw in work:
            try:
                served = served_certificate(nw.node.host, nw.node.port, rot.tls(), rot.hostname(nw.node))
                ok = ok and (nw.expect is None or _fingerprint(served) == _fingerprint(nw.expect))
            except RunbookError:
                ok = False
        rounds += 1
        elapsed = time.monotonic() - t0
        if not ok or elapsed >= limit or (elapsed >= seconds and (until is None or until())):
            break
        time.sleep(0.2)
    old_ok = all(rot._check_old_connection(nw.node, "soak") for nw in work)
    rot.report.add(
        "soak",
        "pass" if ok and old_ok else "fail",
        "fresh handshakes kept presenting the new certificates until the soak ended"
        if ok
        else "a fresh handshake presented another certificate during the soak",
        "" if ok else "investigate: another process reloaded the server",
    )
    return ok and old_ok


def _rotate_server(
    report: RotationReport,
    paths: pki.PkiPaths,
    targets: Sequence[NodeTarget],
    tls: Callable[[], TlsClientFiles],
    server_hostname: str | None,
    hostnames: Sequence[str],
    new_cert: Path | str | None,
    new_key: Path | str | None,
    days: int,
    dry_run: bool,
    soak_seconds: float,
    soak_until: Callable[[], bool] | None,
    soak_max: float,
    fault: Fault | None,
    relink: bool,
) -> RotationReport:
    client_trust = pki.load_certs(paths.ca_cert)
    supplied = _load_supplied(Path(new_cert), Path(new_key)) if new_cert and new_key else None
    ca = None if supplied else _load_ca(paths)
    work: list[_NodeWork] = []
    external: list[NodeTarget] = []
    checks: list[CheckResult] = []
    issued_for: dict[Path, tuple[x509.Certificate, bytes, bytes]] = {}
    for node in targets:
        served = served_certificate(node.host, node.port, tls(), server_hostname or node.host)
        managed = _managed(node, served)
        cert_path = node.local(node.cert_file) if managed else paths.server_cert
        key_path = node.local(node.key_file) if managed else paths.server_key
        if not managed:
            external.append(node)
        server_trust = _trust_of(node.local(node.ca_file)) if node.ca_file else client_trust
        server_trust = server_trust or client_trust
        needs_client_auth = (node.role == "slave" or node.mode == "cluster") and not node.client_cert_file
        if cert_path.resolve() in issued_for:
            new, cert_pem, key_pem = issued_for[cert_path.resolve()]
            key: pki.PrivateKey | None = serialization.load_pem_private_key(key_pem, None)  # type: ignore[assignment]
        elif supplied:
            new, cert_pem, key_pem, key = supplied
        else:
            assert ca is not None
            issued = reissue_like(served, ca, days=days)
            new, cert_pem, key_pem, key = issued.cert, issued.cert_pem(), issued.key_pem(), issued.key
        issued_for[cert_path.resolve()] = (new, cert_pem, key_pem)
        names = list(dict.fromkeys([*(hostnames or ()), server_hostname or node.host]))
        checks += preflight_leaf(
            f"preflight:{node.name}:",
            new,
            key,
            purpose="server",
            client_trust=client_trust,
            server_trust=server_trust,
            names=names,
            old=served,
            needs_client_auth=needs_client_auth,
        )
        writes = [
            files.PlannedWrite(cert_path, cert_pem, files.PUBLIC),
            files.PlannedWrite(key_path, key_pem, files.PRIVATE),
        ]
        settings = [("tls-cert-file", node.cert_file), ("tls-key-file", node.key_file)]
        if managed and node.client_cert_file and node.client_key_file and not supplied:
            link_cert_path = node.local(node.client_cert_file)
            old_link = pki.load_cert(link_cert_path)
            assert ca is not None
            link = reissue_like(old_link, ca, days=days)
            checks += preflight_leaf(
                f"preflight:{node.name}:link-",
                link.cert,
                link.key,
                purpose="client",
                client_trust=client_trust,
                server_trust=server_trust,
            )
            writes += link.planned_writes(link_cert_path, node.local(node.client_key_file))
            settings += [
                ("tls-client-cert-file", node.client_cert_file),
                ("tls-client-key-file", node.client_key_file),
            ]
        work.append(_NodeWork(node, writes, settings, new, served, relink=True))
        report.new_serial = serial_of(new)
        for w in writes:
            report.plan.append(
                PlanStep("write", str(w.path), f"stage beside, rename over (mode {w.mode:04o})")
            )
        report.plan.append(
            PlanStep(
                "reload",
                node.name,
                "CONFIG SET " + " ".join(f"{k} {v}" for k, v in settings)
                if managed
                else "external: deploy commands are printed",
            )
        )
        report.plan.append(
            PlanStep("verify", node.name, "fresh handshake presents the new serial; old connection alive")
        )
    report.plan.insert(0, PlanStep("backup", str(paths.root / "backups"), "every file above, byte for byte"))
    if _stop_after_preflight(report, checks, dry_run):
        return report
    if external:
        ext_writes = [w for nw in work if nw.node in external for w in nw.writes]
        uniq = {w.path: w for w in ext_writes}
        backup_dir = files.backup(list(uniq), paths.root)
        report.backup = str(backup_dir) if backup_dir else None
        files.write_all(list(uniq.values()))
        report.add("staged", "pass", "new server files written to the PKI directory (old ones backed up)")
        for node in external:
            report.commands += deploy_commands(node, paths)
        report.status = "pending"
        report.add(
            "external",
            "warn",
            "the server does not read these paths: deploy with the commands, then verify",
            "run the printed commands, then `runbook rotate verify`",
        )
        work = [nw for nw in work if nw.node not in external]
        if not work:
            return report
    rot = _Rotation(report, paths, tls, [nw.node for nw in work], server_hostname, fault, relink)
    try:
        rot.open_sentinels()
        ok = rot.run(work)
        if ok and not _soak(rot, work, soak_seconds, soak_until, soak_max):
            rot._rollback(rot.done, rot.backup_dir, rot.root)
            ok = False
    finally:
        rot.close()
    report.ok = ok
    report.status = ("rotated" if not external else "pending") if ok else "rolled-back"
    return report


def _rotate_client(
    report: RotationReport,
    paths: pki.PkiPaths,
    targets: Sequence[NodeTarget],
    tls: Callable[[], TlsClientFiles],
    server_hostname: str | None,
    name: str,
    new_cert: Path | str | None,
    new_key: Path | str | None,
    days: int,
    dry_run: bool,
    fault: Fault | None,
) -> RotationReport:
    old = pki.load_cert(paths.client_cert(name))
    client_trust = pki.load_certs(paths.ca_cert)
    server_trust: list[x509.Certificate] = []
    for node in targets:
        server_trust += _trust_of(node.local(node.ca_file)) if node.ca_file else []
    server_trust = server_trust or client_trust
    if new_cert and new_key:
        new, cert_pem, key_pem, key = _load_supplied(Path(new_cert), Path(new_key))
    else:
        issued = reissue_like(old, _load_ca(paths), days=days)
        new, cert_pem, key_pem, key = issued.cert, issued.cert_pem(), issued.key_pem(), issued.key
    report.new_serial = serial_of(new)
    checks = preflight_leaf(
        f"preflight:{name}:", new, key, purpose="client", client_trust=client_trust, server_trust=server_trust
    )
    writes = [
        files.PlannedWrite(paths.client_cert(name), cert_pem, files.PUBLIC),
        files.PlannedWrite(paths.client_key(name), key_pem, files.PRIVATE),
    ]
    report.plan = [PlanStep("backup", str(paths.root / "backups"), "the client's files, byte for byte")]
    report.plan += [
        PlanStep("write", str(w.path), f"stage beside, rename over (mode {w.mode:04o})") for w in writes
    ]
    report.plan += [
        PlanStep("verify", n.name, f"a fresh mutual-TLS connection as {name} answers PING") for n in targets
    ]
    if _stop_after_preflight(report, checks, dry_run):
        return report
    rot = _Rotation(report, paths, tls, targets, server_hostname, fault, relink=False)
    try:
        rot.open_sentinels()
        backup_dir, root = rot.backup([_NodeWork(targets[0], writes, [], None, None)])
        files.write_all(writes)
        report.add("swap", "pass", f"{len(writes)} files staged beside the old ones and renamed over them")
        ok = True
        for node in targets:
            ok = (
                _client_verify(report, node, TlsClientFiles.from_pki(paths.root, name), server_hostname)
                and ok
            )
            ok = rot._check_old_connection(node, "verify") and ok
        if not ok:
            rot._rollback([], backup_dir, root)
    finally:
        rot.close()
    report.ok = ok
    report.status = "rotated" if ok else "rolled-back"
    return report


def _client_verify(
    report: RotationReport, node: NodeTarget, tls: TlsClientFiles, server_hostname: str | None
) -> bool:
    try:
        c = redis_client(server_hostname or node.host, node.port, tls)
        c.ping()
        c.close()
        report.add(
            f"verify:{node.name}:client", "pass", "the server accepts the new client certificate (PING)"
        )
        return True
    except (redis.RedisError, OSError) as exc:
        report.add(
            f"verify:{node.name}:client",
            "fail",
            f"refused: {' '.join(str(exc).split())[:120]}",
            "rolled back",
        )
        return False


# --------------------------------------------------------------------------- CA rotation


def ca_state(paths: pki.PkiPaths) -> str:
    """``single`` (one CA), ``bundled`` (new + old trusted, leaves from the old) or ``reissued``."""
    cas = pki.load_certs(paths.ca_cert)
    if len(cas) < 2:
        return "single"
    return "reissued" if pki._signed_by(pki.load_cert(paths.server_cert), cas[0]) else "bundled"


def _pem(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@contextlib.contextmanager
def _probe_client(ca: pki.Issued, root: Path) -> Iterator[TlsClientFiles]:
    """A throwaway client certificate from ``ca`` in a private temp dir (deleted afterwards)."""
    leaf = pki.make_leaf(ca, "rotation-probe", purpose="client", hostnames=["rotation-probe"], days=1)
    with tempfile.TemporaryDirectory(prefix=".probe-", dir=root) as tmp:
        cert, key = Path(tmp) / "probe.crt", Path(tmp) / "probe.key"
        files.write_all(leaf.planned_writes(cert, key))
        yield TlsClientFiles(str(root / pki.CA_CERT), str(cert), str(key))


def _accepted(node: NodeTarget, tls: TlsClientFiles, server_hostname: str | None) -> bool:
    """True when a fresh mutual-TLS connection with ``tls`` gets an answer to PING (no retries)."""
    from runbook.loadgen import read_reply_line, resp_command

    try:
        ctx = tls_context(tls)
        with (
            socket.create_connection((node.host, node.port), timeout=3.0) as raw,
            ctx.wrap_socket(raw, server_hostname=server_hostname or node.host) as sock,
        ):
            sock.sendall(resp_command("PING"))
            return read_reply_line(sock).startswith(b"+PONG")
    except (OSError, ValueError):
        return False


def _rotate_ca(
    report: RotationReport,
    paths: pki.PkiPaths,
    targets: Sequence[NodeTarget],
    tls: Callable[[], TlsClientFiles],
    server_hostname: str | None,
    days: int,
    dry_run: bool,
    phase: str,
    fault: Fault | None,
    relink: bool,
) -> RotationReport:
    for node in targets:
        served = served_certificate(node.host, node.port, tls(), server_hostname or node.host)
        if not _managed(node, served) or not node.ca_file:
            raise RunbookError(
                f"{node.name} does not read its TLS files from paths visible here: rotate the CA on the Redis host"
            )
    state = ca_state(paths)
    order = {"single": list(CA_PHASES), "bundled": ["reissue", "retire"], "reissued": ["retire"]}[state]
    phases = order if phase == "all" else [phase]
    if phases[0] != order[0]:
        raise RunbookError(f"the CA is in state {state!r}: run phase {order[0]!r} first (or --phase all)")
    report.plan = [PlanStep(f"phase:{p}", "all nodes", _PHASE_TEXT[p]) for p in phases]
    if dry_run:
        report.status = "planned"
        report.add("plan", "pass", f"CA state {state}: phases {', '.join(phases)}")
        return report
    old_ca_key = _load_ca(paths) if state == "single" else None
    report.ok = True
    for p in phases:
        sub = RotationReport(kind=f"ca:{p}", target=report.target, nodes=report.nodes)
        if p == "bundle":
            _ca_bundle(sub, paths, targets, tls, server_hostname, days, fault)
        elif p == "reissue":
            _ca_reissue(sub, paths, targets, tls, server_hostname, days, fault, relink)
        else:
            _ca_retire(sub, paths, targets, tls, server_hostname, old_ca_key)
        report.phases.append(sub)
        report.steps += [CheckResult(f"{p}:{r.id}", r.status, r.detail, r.fix) for r in sub.steps]
        report.backup = sub.backup or report.backup
        if not sub.ok:
            report.ok, report.rolled_back = False, sub.rolled_back
            report.status = "rolled-back" if sub.rolled_back else "refused"
            return report
    cas = pki.load_certs(paths.ca_cert)
    report.new_serial = serial_of(cas[0])
    report.status = "rotated" if phases[-1] == "retire" else f"phase {phases[-1]} done"
    return report


_PHASE_TEXT = {
    "bundle": "publish ca.crt = new CA + old CA to servers and clients; reload tls-ca-cert-file",
    "reissue": "re-issue server, link and client certificates from the new CA; reload node by node",
    "retire": "ca.crt = new CA only; reload tls-ca-cert-file; old-CA clients are refused",
}


def _ca_files(targets: Sequence[NodeTarget], paths: pki.PkiPaths) -> list[Path]:
    return list(dict.fromkeys([paths.ca_cert.resolve(), *(n.local(n.ca_file).resolve() for n in targets)]))


def _ca_bundle(
    sub: RotationReport,
    paths: pki.PkiPaths,
    targets: Sequence[NodeTarget],
    tls: Callable[[], TlsClientFiles],
    server_hostname: str | None,
    days: int,
    fault: Fault | None,
) -> None:
    old = _load_ca(paths)
    old_chain = pki.load_certs(paths.ca_cert)
    key_type = pki.key_description(old.cert.public_key())[0]
    new = pki.make_ca(key_type if key_type in pki.KEY_TYPES else "ecdsa-p256", max(days, 3650))
    sub.old_serial, sub.new_serial = serial_of(old.cert), serial_of(new.cert)
    checks = [CheckResult(f"preflight:{r.id}", r.status, r.detail, r.fix) for r in _ca_profile_of(new.cert)]
    sub.steps += checks
    if not all_ok(checks):
        sub.ok, sub.status = False, "refused"
        return
    bundle = _pem([new.cert, *old_chain])
    writes = [files.PlannedWrite(p, bundle, files.PUBLIC) for p in _ca_files(targets, paths)]
    writes.append(
        files.PlannedWrite(
            paths.ca_key,
            new.key_pem(pki.passphrase_from_env(pki.CA_ENV) if _ca_encrypted(paths) else None),
            files.PRIVATE,
        )
    )
    work = [
        _NodeWork(n, writes if i == 0 else [], [("tls-ca-cert-file", n.ca_file)], None, None)
        for i, n in enumerate(targets)
    ]
    rot = _Rotation(sub, paths, tls, targets, server_hostname, fault, relink=False)
    try:
        rot.open_sentinels()
        ok = rot.run(work)
        if ok:
            with _probe_client(new, paths.root) as probe:
                for n in targets:
                    accepted = _accepted(n, probe, server_hostname)
                    sub.add(
                        f"verify:{n.name}:new-ca-trusted",
                        "pass" if accepted else "fail",
                        "a client certificate from the new CA is accepted"
                        if accepted
                        else "the new CA is not trusted yet",
                        "" if accepted else "check tls-ca-cert-file",
                    )
                    ok = ok and accepted
                    still = _accepted(n, tls(), server_hostname)
                    sub.add(
                        f"verify:{n.name}:old-leaves",
                        "pass" if still else "fail",
                        "current certificates (old CA) still verify both ways"
                        if still
                        else "old certificates stopped working",
                        "" if still else "restore from the backup",
                    )
                    ok = ok and still
                if not ok:
                    rot._rollback(work, rot.backup_dir, rot.root)
    finally:
        rot.close()
    sub.ok = ok
    sub.status = "rotated" if ok else "rolled-back"


def _ca_profile_of(cert: x509.Certificate) -> list[CheckResult]:
    with tempfile.NamedTemporaryFile(suffix=".crt") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
        fh.flush()
        return pki.ca_profile(fh.name)


def _ca_reissue(
    sub: RotationReport,
    paths: pki.PkiPaths,
    targets: Sequence[NodeTarget],
    tls: Callable[[], TlsClientFiles],
    server_hostname: str | None,
    days: int,
    fault: Fault | None,
    relink: bool,
) -> None:
    ca = _load_ca(paths)
    trust = pki.load_certs(paths.ca_cert)
    new_only = [trust[0]]
    client_writes: list[files.PlannedWrite] = []
    checks: list[CheckResult] = []
    for client_name in paths.client_names():
        old = pki.load_cert(paths.client_cert(client_name))
        issued = reissue_like(old, ca, days=days)
        checks += preflight_leaf(
            f"preflight:{client_name}:",
            issued.cert,
            issued.key,
            purpose="client",
            client_trust=new_only,
            server_trust=new_only,
        )
        client_writes += issued.planned_writes(paths.client_cert(client_name), paths.client_key(client_name))
    work: list[_NodeWork] = []
    issued_for: dict[Path, pki.Issued] = {}
    for node in targets:
        served = served_certificate(node.host, node.port, tls(), server_hostname or node.host)
        cert_path = node.local(node.cert_file).resolve()
        leaf = issued_for.get(cert_path) or reissue_like(served, ca, days=days)
        issued_for[cert_path] = leaf
        sub.old_serial = sub.old_serial or serial_of(served)
        sub.new_serial = serial_of(leaf.cert)
        checks += preflight_leaf(
            f"preflight:{node.name}:",
            leaf.cert,
            leaf.key,
            purpose="server",
            client_trust=new_only,
            server_trust=new_only,
            names=[server_hostname or node.host],
            old=served,
        )
        writes = leaf.planned_writes(cert_path, node.local(node.key_file).resolve())
        settings = [("tls-cert-file", node.cert_file), ("tls-key-file", node.key_file)]
        if node.client_cert_file and node.client_key_file:
            link = reissue_like(pki.load_cert(node.local(node.client_cert_file)), ca, days=days)
            writes += link.planned_writes(
                node.local(node.client_cert_file).resolve(), node.local(node.client_key_file).resolve()
            )
            settings += [
                ("tls-client-cert-file", node.client_cert_file),
                ("tls-client-key-file", node.client_key_file),
            ]
        work.append(_NodeWork(node, writes, settings, leaf.cert, served, relink=True))
    sub.steps += checks
    if not all_ok(checks):
        sub.ok, sub.status = False, "refused"
        return
    rot = _Rotation(sub, paths, tls, targets, server_hostname, fault, relink)
    try:
        rot.open_sentinels()
        ok = rot.run(work, client_writes)
        if ok:
            for node in targets:
                ok = _client_verify(sub, node, tls(), server_hostname) and ok
    finally:
        rot.close()
    sub.ok = ok
    sub.status = "rotated" if ok else "rolled-back"


def _ca_retire(
    sub: RotationReport,
    paths: pki.PkiPaths,
    targets: Sequence[NodeTarget],
    tls: Callable[[], TlsClientFiles],
    server_hostname: str | None,
    old_ca: pki.Issued | None,
) -> None:
    cas = pki.load_certs(paths.ca_cert)
    new, retired = cas[0], cas[1:]
    sub.old_serial = ", ".join(serial_of(c) for c in retired)
    sub.new_serial = serial_of(new)
    checks: list[CheckResult] = []
    for node in targets:
        served = served_certificate(node.host, node.port, tls(), server_hostname or node.host)
        try:
            pki.verify_server_cert(served, [new], server_hostname or node.host)
            checks.append(
                CheckResult(
                    f"preflight:{node.name}:served-by-new-ca",
                    "pass",
                    "the served certificate chains to the new CA alone",
                )
            )
        except RunbookError as exc:
            checks.append(
                CheckResult(
                    f"preflight:{node.name}:served-by-new-ca", "fail", str(exc), "run phase reissue first"
                )
            )
    for client_name in paths.client_names():
        ok = pki._signed_by(pki.load_cert(paths.client_cert(client_name)), new)
        checks.append(
            CheckResult(
                f"preflight:{client_name}:issued-by-new-ca",
                "pass" if ok else "fail",
                "issued by the new CA" if ok else "still issued by the old CA",
                "" if ok else "run phase reissue first",
            )
        )
    sub.steps += checks
    if not all_ok(checks):
        sub.ok, sub.status = False, "refused"
        return
    single = _pem([new])
    writes = [files.PlannedWrite(p, single, files.PUBLIC) for p in _ca_files(targets, paths)]
    work = [
        _NodeWork(n, writes if i == 0 else [], [("tls-ca-cert-file", n.ca_file)], None, None)
        for i, n in enumerate(targets)
    ]
    rot = _Rotation(sub, paths, tls, targets, server_hostname, None, relink=False)
    try:
        rot.open_sentinels()
        ok = rot.run(work)
        if ok:
            for n in targets:
                ok = _client_verify(sub, n, tls(), server_hostname) and ok
                if old_ca is not None:
                    with _probe_client(old_ca, paths.root) as probe:
                        refused = not _accepted(n, probe, server_hostname)
                    sub.add(
                        f"verify:{n.name}:old-ca-refused",
                        "pass" if refused else "fail",
                        "a client certificate from the retired CA is refused"
                        if refused
                        else "the retired CA is still trusted",
                        "" if refused else "check tls-ca-cert-file / tls-ca-cert-dir",
                    )
                    ok = ok and refused
    finally:
        rot.close()
    sub.ok = ok
    sub.status = "rotated" if ok else "rolled-back"


# --------------------------------------------------------------------------- drills and evidence helpers

DRILLS: tuple[str, ...] = ("wrong-key", "other-ca", "missing-san", "expired")


def drill_material(kind: str, pki_dir: Path | str, out_dir: Path | str) -> tuple[Path, Path]:
    """Write a deliberately bad server certificate + key to ``out_dir`` for a preflight drill. Writes files.

    ``wrong-key``: a good certificate with another key; ``other-ca``: issued by a stranger CA;
    ``missing-san``: lacks 127.0.0.1 and ::1; ``expired``: its validity ended days ago.
    """
    if kind not in DRILLS:
        raise RunbookError(f"unknown drill {kind!r}: choose {', '.join(DRILLS)}")
    paths = pki.PkiPaths(Path(pki_dir))
    ca = _load_ca(paths)
    dns, ips = ["localhost"], ["127.0.0.1", "::1"]
    if kind == "wrong-key":
        good = pki.make_leaf(ca, "localhost", purpose="server", hostnames=dns, ips=ips)
        issued = pki.Issued(good.cert, pki.generate_key("ecdsa-p256"))
    elif kind == "other-ca":
        issued = pki.make_leaf(pki.make_ca(), "localhost", purpose="server", hostnames=dns, ips=ips)
    elif kind == "missing-san":
        issued = pki.make_leaf(ca, "localhost", purpose="server", hostnames=dns)
    else:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
        issued = pki.make_leaf(
            ca,
            "localhost",
            purpose="server",
            hostnames=dns,
            ips=ips,
            not_before=past,
            not_after=past + dt.timedelta(days=1),
        )
    out = files.ensure_private_dir(Path(out_dir))
    cert, key = out / f"{kind}.crt", out / f"{kind}.key"
    files.write_all(issued.planned_writes(cert, key))
    return cert, key


def file_digests(paths: Sequence[Path | str]) -> dict[str, str]:
    """SHA-256 of each file (to prove files are intact byte for byte)."""
    return {str(p): hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths}


def plan_rows(report: RotationReport, root: Path | str) -> list[tuple[str, str, str]]:
    """The plan as (step, target, detail) with paths shown relative to ``root`` (stable in notebooks)."""
    prefix = str(Path(root).resolve()) + os.sep
    return [(s.step, s.target.replace(prefix, ""), s.detail.replace(prefix, "")) for s in report.plan]


# --------------------------------------------------------------------------- notebook 05: external target

LIVE_LOAD_NEEDS_SANDBOX = "the live-load proof needs a local server: run with target=sandbox"
DRILLS_NEED_SANDBOX = "the rotation drills build local broken servers: run with target=sandbox"


def issuing_pki(ca_file: Path | str) -> Path | None:
    """The runbook PKI folder that can issue for ``ca_file`` (``ca.crt`` + ``ca.key`` side by side), or None."""
    folder = Path(ca_file).resolve().parent
    paths = pki.PkiPaths(folder)
    if Path(ca_file).resolve() == paths.ca_cert.resolve() and paths.ca_key.is_file():
        return folder
    return None


def unplanned(target: str, ca_file: Path | str) -> RotationReport:
    """The plan of an external rotation that cannot be planned here: no CA key beside ``ca_file``."""
    report = RotationReport(kind="server", target=target, status="skipped")
    report.add(
        "plan",
        "skip",
        f"no ca.key beside {Path(ca_file).name}: a new certificate cannot be issued here",
        "point ca_file at the runbook PKI folder's ca.crt (ca.key beside it), or rotate with "
        "`runbook rotate server --cert NEW.crt --key NEW.key`",
    )
    return report


def external_rotation(
    plan: RotationReport,
    pki_dir: Path | str | None,
    nodes: Sequence[NodeTarget],
    *,
    apply: bool,
    client_files: TlsClientFiles,
    server_hostname: str | None,
    days: int = 365,
    soak_seconds: float = 0.0,
) -> RotationReport:
    """Notebook 05 under the external target: the dry-run ``plan`` by default, a real rotation on ``apply``.

    Without ``apply`` nothing is written and the server is not touched: the plan gets the exact
    deploy and ``CONFIG SET`` reload commands and an ``apply`` step with status ``skip``. With
    ``apply`` (and a planned, preflighted rotation) it calls :func:`rotate`, which reloads a server
    that reads these paths or stages the files and returns the commands (status ``pending``).
    """
    if plan.status != "planned" or pki_dir is None:
        return plan
    paths = pki.PkiPaths(Path(pki_dir))
    if not apply:
        plan.commands = [
            "# the new files are not written yet: `python -m runbook rotate server --dir "
            f"{shlex.quote(str(paths.root))} --host H --port N` (or apply_external=True) writes them, then:",
            *(c for n in nodes for c in deploy_commands(n, paths)),
        ]
        plan.add(
            "apply",
            "skip",
            "external target: planned and preflighted only, nothing written, the server untouched",
            "set apply_external=True (the server must read these paths), or run the commands",
        )
        return plan
    return rotate(
        "server", paths.root, nodes, days=days, client_files=client_files,
        server_hostname=server_hostname, soak_seconds=soak_seconds,
    )  # fmt: skip


def rotation_done(report: RotationReport, target: str) -> bool:
    """True when step 3 ended as it should: ``rotated`` on the sandbox; planned/staged/rotated external."""
    if target != "external":
        return report.ok and report.status == "rotated"
    return report.ok and report.status in ("planned", "skipped", "pending", "rotated")


def skipped_drill(target: str, reason: str = DRILLS_NEED_SANDBOX) -> RotationReport:
    """A drill that was not run (external target): status ``skipped``, one ``skip`` step with ``reason``."""
    report = RotationReport(kind="server", target=target, status="skipped")
    report.add("drill", "skip", reason)
    return report


def external_verdict(plan: RotationReport, report: RotationReport) -> list[CheckResult]:
    """Notebook 05's verdict under the external target (same ids as the sandbox verdict)."""
    preflight = [s for s in plan.steps if s.id.startswith("preflight")]
    if plan.status == "skipped":
        first = plan.steps[0]
        plan_check = CheckResult("plan-preflight", "skip", first.detail, first.fix)
    else:
        plan_check = CheckResult(
            "plan-preflight",
            "pass" if all_ok(preflight) and plan.status == "planned" else "fail",
            "dry run planned, a freshly issued certificate preflighted against the live server's trust",
        )
    outcome = {
        "planned": CheckResult(
            "rotation", "skip", "planned only (apply_external=False): nothing written, the server untouched"
        ),
        "skipped": CheckResult("rotation", "skip", "not planned: see plan-preflight"),
        "rotated": CheckResult("rotation", "pass", "backup, atomic swap, one CONFIG SET, verified"),
        "pending": CheckResult(
            "rotation",
            "warn",
            "new files staged in the PKI folder: the server does not read them",
            "run the printed deploy commands, then `runbook rotate verify`",
        ),
    }
    rotation = outcome.get(report.status) if report.ok else None
    return [
        plan_check,
        rotation or CheckResult("rotation", "fail", f"rotation {report.status}", "read the failed steps"),
        CheckResult("live-load", "skip", LIVE_LOAD_NEEDS_SANDBOX),
        CheckResult("drill-preflight", "skip", DRILLS_NEED_SANDBOX),
        CheckResult("drill-rollback", "skip", DRILLS_NEED_SANDBOX),
    ]
