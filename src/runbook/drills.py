"""Fault drills: real broken setups for training, each diagnosed and cleaned up.

Every drill builds ONE broken setup in a temporary sandbox folder (its own redis-server
processes on free loopback ports, its own extra certificates), shows the symptom a trainee would
see (the redis-py exception, or the server dying at start), runs
:func:`runbook.diagnose.diagnose_endpoint` and checks that it names the expected cause id. Then it
stops every process it started and removes its folder, and records whether that worked.

The drills share one throwaway PKI (:func:`drill_pki`) so a full run stays fast. Nothing here
touches the work dir's PKI or the sandbox of the notebooks.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import ssl
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from runbook import diagnose, files, pki, sandbox
from runbook.client import Endpoint, TlsClientFiles
from runbook.errors import RunbookError
from runbook.sandbox import Node

HOST = "localhost"
KEY_PASSPHRASE = "the-right-passphrase"  # the encrypted key's real passphrase (server-key-wrong-passphrase)
TIMEOUT = 2.0  # seconds: loopback answers fast; a TLS client on a plaintext port waits this long


# --------------------------------------------------------------------------- the environment


@dataclass
class DrillEnv:
    """One drill's temporary folder, the shared PKI, and the processes it started."""

    root: Path
    paths: pki.PkiPaths
    ca: pki.Issued
    nodes: list[Node] = field(default_factory=list)

    def write_pair(self, name: str, issued: pki.Issued, passphrase: bytes | None = None) -> tuple[str, str]:
        """Write ``name.crt`` and ``name.key`` (0600) into the drill folder."""
        crt, key = self.root / f"{name}.crt", self.root / f"{name}.key"
        files.write_all(
            [
                files.PlannedWrite(crt, issued.cert_pem(), files.PUBLIC),
                files.PlannedWrite(key, issued.key_pem(passphrase), files.PRIVATE),
            ]
        )
        return str(crt), str(key)

    def leaf(self, purpose: str, name: str = "localhost", **kw: Any) -> pki.Issued:
        hostnames = kw.pop("hostnames", [name])
        ips = kw.pop("ips", ["127.0.0.1", "::1"] if purpose == "server" else [])
        return pki.make_leaf(self.ca, name, purpose=purpose, hostnames=hostnames, ips=ips, **kw)  # type: ignore[arg-type]

    def start(self, name: str, *, listening: bool = True, **overrides: str) -> Node:
        """Start a redis-server from the sandbox base config plus ``overrides``. Starts a process.

        With ``listening`` it waits until the port accepts TCP (not a TLS PING: most drill
        servers are broken on purpose); without, it returns at once (servers meant to die).
        """
        node_dir = self.root / name
        conf = sandbox.base_conf(node_dir, self.paths, sandbox.free_port())
        conf.update({k.replace("_", "-"): v for k, v in overrides.items()})
        node = sandbox.start_node(name, "primary", node_dir, conf, self.paths, wait=False)
        self.nodes.append(node)
        if listening:
            _wait_listening(node)
        return node

    def client_kwargs(self, **over: Any) -> dict[str, Any]:
        """The default mutual-TLS client of the shared PKI, with ``over`` applied."""
        kwargs: dict[str, Any] = {
            "ca": str(self.paths.ca_cert),
            "cert": str(self.paths.client_cert()),
            "key": str(self.paths.client_key()),
        }
        kwargs.update(over)
        return kwargs


@dataclass
class Setup:
    """A broken endpoint: where to connect (a drill node's :attr:`Node.endpoint`), how the client
    connects (redis-py keywords: ``ca``/``cert``/``key``, ``max_version``, ``ciphers``), what it shows."""

    endpoint: Endpoint
    client: dict[str, Any]
    log_file: str = ""
    symptom: str = ""  # set when the symptom is not a client error (server died, link down)


@dataclass(frozen=True)
class Drill:
    name: str
    expected: str
    scenario: str
    build: Callable[[DrillEnv], Setup]


@dataclass
class DrillResult:
    """What one drill showed and whether the diagnosis named the right cause."""

    name: str
    scenario: str
    expected: str
    symptom: str
    cause: str
    summary: str
    fix: str
    evidence: list[str]
    diagnosed: bool
    cleaned: bool
    symptom_cause: str = ""  # diagnose(the redis-py exception, tls/client_cert/server log) alone

    @property
    def ok(self) -> bool:
        return self.diagnosed and self.cleaned

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


# --------------------------------------------------------------------------- helpers


def _wait_listening(node: Node, timeout: float = 10.0) -> None:
    try:
        sandbox.wait_listening(node, timeout)
    except RunbookError as exc:
        raise RunbookError(f"drill {sanitize(str(exc))}") from None


def _wait_dead(node: Node, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not sandbox.pid_alive(node.pid):
            return True
        time.sleep(0.02)
    return False


def _startup_failure(env: DrillEnv, name: str, **overrides: str) -> Setup:
    """Start a server that must die at start-up; the symptom is its last log line."""
    node = env.start(name, listening=False, **overrides)
    if not _wait_dead(node):
        raise RunbookError(f"drill {name}: redis-server kept running: the drill's fault did not apply")
    last = next((ln for ln in reversed(diagnose.read_server_log(node.log_path)) if ln.strip()), "")
    lines = [ln for ln in diagnose.read_server_log(node.log_path) if ln.startswith("Failed to")]
    shown = lines[0] if lines else last
    return Setup(
        node.endpoint,
        env.client_kwargs(),
        str(node.log_path),
        sanitize(f"redis-server exits at start: {shown}"),
    )


def sanitize(text: str) -> str:
    """Drop volatile parts (ports, temp paths, OpenSSL source lines) from a symptom for display."""
    text = re.sub(r"\s*\(_ssl\.c:\d+\)", "", text)
    text = re.sub(r"\s*\(conn: [^)]*\)", "", text)
    text = re.sub(r"(/[\w.\-]+)+/([\w.\-]+)", r"\2", text)
    text = re.sub(r"(localhost|127\.0\.0\.1|\[::1\]|::1):\d+", r"\1:PORT", text)
    text = re.sub(r"\bport \d+", "port PORT", text)
    return " ".join(text.split())


def symptom_of(setup: Setup) -> str:
    """What the trainee sees: a redis-py client (retries off) built from the drill's client spec."""
    return _symptom(setup)[0]


def _symptom(setup: Setup) -> tuple[str, BaseException | None]:
    c = setup.client
    if c.get("max_version"):
        return _symptom_capped(setup)
    kwargs: dict[str, Any] = {
        "host": setup.endpoint.host,
        "port": setup.endpoint.port,
        "socket_timeout": TIMEOUT,
        "socket_connect_timeout": TIMEOUT,
        "retry": Retry(NoBackoff(), 0),
    }
    if c.get("tls", True):
        kwargs.update(ssl=True, ssl_ca_certs=c.get("ca"), ssl_cert_reqs="required")
        if c.get("cert"):
            kwargs.update(ssl_certfile=c["cert"], ssl_keyfile=c.get("key"))
        if c.get("ciphers"):
            kwargs["ssl_ciphers"] = c["ciphers"]
        if c.get("min_version"):
            kwargs["ssl_min_version"] = c["min_version"]
    client = redis.Redis(**kwargs)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return sanitize(diagnose.describe_error(exc)), exc
    finally:
        client.close()
    return "PING -> PONG", None


_DROPPED = re.compile(r"while writing to socket|while reading from|EOF occurred|Connection reset")


def _stable(symptom: str, log_file: str, before: int | None) -> str:
    """A drop right after the TLS 1.3 handshake shows as EOF or as the alert, by timing: say both,
    and add the server's reason from its log (deterministic)."""
    if not _DROPPED.search(symptom) or not log_file:
        return symptom
    deadline = time.monotonic() + 10.0  # the server logs it at once; a loaded machine may take seconds
    reasons: list[str] = []
    while not reasons and time.monotonic() < deadline:
        lines = diagnose.read_server_log(log_file, since=before)
        reasons = [
            ln.split("connection: ", 1)[-1]
            for ln in lines
            if "Error accepting" in ln and "unexpected eof" not in ln  # our readiness probe's close
        ]
        time.sleep(0.02)
    head = "ConnectionError right after the TLS handshake (EOF or a TLS alert, depending on timing)"
    if "Connection reset" in symptom and "reading from" in symptom:
        head = "ConnectionError: Connection reset by peer"
    return sanitize(f"{head}; server log: {reasons[0]}") if reasons else symptom


def _symptom_capped(setup: Setup) -> tuple[str, BaseException | None]:
    """redis-py cannot cap the TLS version: show what a capped client (like an old app) sees."""
    files = TlsClientFiles(setup.client.get("ca") or "", setup.client.get("cert"), setup.client.get("key"))
    spec = diagnose.ClientSpec(
        Endpoint(
            setup.endpoint.host, setup.endpoint.port, files=files
        ),  # the host verified, as redis-py does
        max_version=setup.client.get("max_version"),
        ciphers=setup.client.get("ciphers"),
    )
    outcome = diagnose.attempt(spec, TIMEOUT)
    text = sanitize(diagnose.describe_error(outcome.error)) if outcome.error else "PING -> PONG"
    return text, outcome.error


# --------------------------------------------------------------------------- the drills


def _healthy(env: DrillEnv) -> Setup:
    return Setup(env.start("healthy").endpoint, env.client_kwargs())


def _server_down(env: DrillEnv) -> Setup:
    node = env.start("stopped")
    sandbox.stop_node(node)
    return Setup(node.endpoint, env.client_kwargs(), str(node.log_path))


def _untrusted_ca(env: DrillEnv) -> Setup:
    other = pki.make_ca(common_name="some other CA")
    path = env.root / "other-ca.crt"
    files.write_file(path, other.cert_pem())
    return Setup(env.start("server").endpoint, env.client_kwargs(ca=str(path)))


def _hostname_mismatch(env: DrillEnv) -> Setup:
    crt, key = env.write_pair("server", env.leaf("server", "redis.internal", ips=[]))
    return Setup(env.start("server", tls_cert_file=crt, tls_key_file=key).endpoint, env.client_kwargs())


def _expired(env: DrillEnv) -> Setup:
    now = dt.datetime.now(dt.UTC)
    issued = env.leaf("server", not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=2))
    crt, key = env.write_pair("server", issued)
    return Setup(env.start("server", tls_cert_file=crt, tls_key_file=key).endpoint, env.client_kwargs())


def _not_yet_valid(env: DrillEnv) -> Setup:
    now = dt.datetime.now(dt.UTC)
    issued = env.leaf("server", not_before=now + dt.timedelta(days=2), not_after=now + dt.timedelta(days=400))
    crt, key = env.write_pair("server", issued)
    return Setup(env.start("server", tls_cert_file=crt, tls_key_file=key).endpoint, env.client_kwargs())


def _missing_client_cert(env: DrillEnv) -> Setup:
    return Setup(env.start("server").endpoint, env.client_kwargs(cert=None, key=None))


def _client_other_ca(env: DrillEnv) -> Setup:
    other = pki.make_ca(common_name="some other CA")
    crt, key = env.write_pair(
        "intruder", pki.make_leaf(other, "intruder", purpose="client", hostnames=["intruder"])
    )
    return Setup(env.start("server").endpoint, env.client_kwargs(cert=crt, key=key))


def _client_wrong_usage(env: DrillEnv) -> Setup:
    crt, key = env.write_pair("app", env.leaf("server", "app", ips=[]))  # serverAuth only
    return Setup(env.start("server").endpoint, env.client_kwargs(cert=crt, key=key))


def _plaintext_on_tls(env: DrillEnv) -> Setup:
    node = env.start("server")
    return Setup(node.endpoint, {"tls": False}, str(node.log_path))


def _tls_on_plaintext(env: DrillEnv) -> Setup:
    node = env.start("server", port=str(sandbox.free_port()), tls_port="0")
    return Setup(replace(node.endpoint, port=node.plaintext_port), env.client_kwargs(), str(node.log_path))


def _tls11_client(env: DrillEnv) -> Setup:
    client = env.client_kwargs(
        max_version=ssl.TLSVersion.TLSv1_1,
        min_version=ssl.TLSVersion.TLSv1,
        ciphers="DEFAULT:@SECLEVEL=0",  # OpenSSL 3 refuses to even offer TLS 1.1 above level 0
    )
    return Setup(env.start("server").endpoint, client)


def _cipher_mismatch(env: DrillEnv) -> Setup:
    node = env.start("server", tls_protocols="TLSv1.2", tls_ciphers="ECDHE-ECDSA-AES256-GCM-SHA384")
    return Setup(node.endpoint, env.client_kwargs(ciphers="ECDHE-ECDSA-AES128-GCM-SHA256"))


def _key_mismatch(env: DrillEnv) -> Setup:
    _, key = env.write_pair("other", env.leaf("server"))
    return _startup_failure(env, "server", tls_key_file=key)


def _key_unreadable(env: DrillEnv) -> Setup:
    # A rotation that removed the key file but left the config (and a dangling link) behind.
    # (A mode-000 file is not unreadable for root, so the drill uses a path that is really gone.)
    link = env.root / "redis-server.key"
    os.symlink(env.root / "rotated-away.key", link)
    return _startup_failure(env, "server", tls_key_file=str(link))


def _key_passphrase(env: DrillEnv) -> Setup:
    issued = pki.Issued(pki.load_cert(env.paths.server_cert), pki.load_key(env.paths.server_key))
    crt, key = env.write_pair("encrypted", issued, passphrase=KEY_PASSPHRASE.encode())
    return _startup_failure(
        env, "server", tls_cert_file=crt, tls_key_file=key, tls_key_file_pass="a-wrong-one"
    )


def _replica_server_auth_only(env: DrillEnv) -> Setup:
    # The shared server certificate has serverAuth only; the replica presents it to its primary.
    primary = env.start("primary", tls_replication="yes", repl_diskless_sync_delay="0")
    replica = env.start("replica", tls_replication="yes", replicaof=f"127.0.0.1 {primary.port}")
    deadline = (
        time.monotonic() + 20
    )  # the replica retries every second; a loaded machine delays the first try
    line = ""
    while time.monotonic() < deadline and not line:
        line = next(
            (
                ln
                for ln in diagnose.read_server_log(replica.log_path)
                if "alert unsupported certificate" in ln
            ),
            "",
        )
        time.sleep(0.05)
    symptom = "INFO replication: master_link_status:down" + (f"; replica log: {line}" if line else "")
    return Setup(replica.endpoint, env.client_kwargs(), str(replica.log_path), sanitize(symptom))


DRILLS: tuple[Drill, ...] = (
    Drill("healthy", "ok", "control: a correct mutual-TLS setup", _healthy),
    Drill("server-down", "server-unreachable", "redis-server is not running on the port", _server_down),
    Drill(
        "untrusted-ca", "untrusted-ca", "the client trusts another CA than the server's issuer", _untrusted_ca
    ),
    Drill(
        "san-mismatch",
        "hostname-mismatch",
        "server certificate issued for redis.internal, client connects to localhost",
        _hostname_mismatch,
    ),
    Drill("expired-server-cert", "cert-expired", "the server certificate expired two days ago", _expired),
    Drill(
        "future-server-cert",
        "cert-not-yet-valid",
        "the server certificate starts in two days",
        _not_yet_valid,
    ),
    Drill(
        "missing-client-cert",
        "client-cert-missing",
        "tls-auth-clients yes, the client presents no certificate",
        _missing_client_cert,
    ),
    Drill(
        "client-cert-other-ca",
        "client-cert-untrusted",
        "the client certificate comes from another CA",
        _client_other_ca,
    ),
    Drill(
        "client-cert-server-usage",
        "client-cert-wrong-usage",
        "the client presents a certificate with serverAuth only (no clientAuth)",
        _client_wrong_usage,
    ),
    Drill(
        "plaintext-client-on-tls-port",
        "plaintext-to-tls-port",
        "a plaintext client (no --tls) on the TLS port",
        _plaintext_on_tls,
    ),
    Drill(
        "tls-client-on-plaintext-port",
        "tls-to-plaintext-port",
        "a TLS client on a plaintext-only port",
        _tls_on_plaintext,
    ),
    Drill(
        "tls11-client", "protocol-mismatch", "a TLS 1.1-only client, server allows TLS 1.2/1.3", _tls11_client
    ),
    Drill(
        "cipher-mismatch",
        "no-shared-cipher",
        "server TLS 1.2 with AES-256-GCM only, client offers AES-128-GCM only",
        _cipher_mismatch,
    ),
    Drill(
        "server-key-mismatch",
        "server-key-mismatch",
        "tls-key-file is another certificate's key",
        _key_mismatch,
    ),
    Drill(
        "server-key-unreadable",
        "server-file-unreadable",
        "tls-key-file points at a key file that cannot be read (a dangling link)",
        _key_unreadable,
    ),
    Drill(
        "server-key-wrong-passphrase",
        "server-key-passphrase",
        "the server key is encrypted and tls-key-file-pass is wrong",
        _key_passphrase,
    ),
    Drill(
        "replica-cert-without-clientauth",
        "outgoing-cert-wrong-usage",
        "a replica presents its serverAuth-only certificate to a primary that requires client certs",
        _replica_server_auth_only,
    ),
)


def names() -> list[str]:
    return [d.name for d in DRILLS]


def get(name: str) -> Drill:
    for d in DRILLS:
        if d.name == name:
            return d
    raise RunbookError(f"no drill named {name!r}: choose one of {', '.join(names())} (or all)")


def select(choice: str | Sequence[str] = "all") -> list[Drill]:
    """``"all"``, one name, a comma-separated list, or a list of names."""
    wanted = [choice] if isinstance(choice, str) else list(choice)
    flat = [n.strip() for item in wanted for n in item.split(",") if n.strip()]
    if not flat or flat == ["all"]:
        return list(DRILLS)
    return [get(n) for n in flat]


# --------------------------------------------------------------------------- running


def drill_pki(folder: Path) -> Path:
    """Create (or reuse) the throwaway PKI the drills share in ``folder``. Writes files; idempotent."""
    pki.create_pki(folder, pki.PkiSpec())
    return folder


def run_drill(drill: Drill, pki_dir: Path, base_dir: Path | None = None) -> DrillResult:
    """Build the drill's broken setup, show the symptom, diagnose, clean up. Starts and stops processes.

    The drill's folder (under ``base_dir``, default the system temp dir) is removed afterwards,
    and every process it started is stopped; ``cleaned`` records that both happened.
    """
    paths = pki.PkiPaths(Path(pki_dir))
    ca = pki.Issued(pki.load_cert(paths.ca_cert), pki.load_key(paths.ca_key, None, pki.CA_ENV))
    problem = ""
    for _ in range(2):  # a free port can be taken by another process before redis binds it: retry once
        try:
            return _run_once(drill, paths, ca, base_dir)
        except RunbookError as exc:
            problem = str(exc)
    return DrillResult(
        drill.name, drill.scenario, drill.expected, f"the drill could not be built: {sanitize(problem)}",
        "error", "", "", [], False, True,
    )  # fmt: skip


def _run_once(drill: Drill, paths: pki.PkiPaths, ca: pki.Issued, base_dir: Path | None) -> DrillResult:
    root = Path(tempfile.mkdtemp(prefix=f"drill-{drill.name}-", dir=base_dir))
    env = DrillEnv(root, paths, ca)
    try:
        setup = drill.build(env)
        if not setup.log_file and env.nodes:
            setup.log_file = str(env.nodes[-1].log_path)
        before = diagnose.log_size(setup.log_file or None)
        c = setup.client
        symptom, symptom_cause = setup.symptom, ""
        if not symptom:
            text, exc = _symptom(setup)
            symptom = _stable(text, setup.log_file, before)
            # the same diagnosis from the client's exception alone, plus what the trainee can read
            server_log = diagnose.read_server_log(setup.log_file, since=before) if setup.log_file else []
            facts = {
                "tls": c.get("tls", True),
                "log": server_log,
                **diagnose.client_cert_facts(c.get("cert")),
            }
            symptom_cause = diagnose.diagnose(exc, facts).cause
        result = diagnose.diagnose_endpoint(
            setup.endpoint.with_files(TlsClientFiles(c.get("ca") or "", c.get("cert"), c.get("key"))),
            tls=c.get("tls", True),
            min_version=c.get("min_version"),
            max_version=c.get("max_version"),
            ciphers=c.get("ciphers"),
            timeout=TIMEOUT,
            log_file=setup.log_file or None,
            settle=0.5,
        )
    finally:
        for node in env.nodes:
            sandbox.stop_node(node)
        shutil.rmtree(root, ignore_errors=True)
    cleaned = not root.exists() and not any(sandbox.pid_alive(n.pid) for n in env.nodes)
    return DrillResult(
        drill.name,
        drill.scenario,
        drill.expected,
        symptom,
        result.cause,
        result.summary,
        result.fix,
        [sanitize(e) for e in result.evidence],
        result.cause == drill.expected,
        cleaned,
        symptom_cause,
    )


def run(choice: str | Sequence[str] = "all", *, pki_dir: Path | None = None) -> list[DrillResult]:
    """Run the chosen drills (default all) on a shared throwaway PKI. Starts and stops processes."""
    chosen = select(choice)
    with tempfile.TemporaryDirectory(prefix="runbook-drills-") as tmp:
        folder = Path(pki_dir) if pki_dir else drill_pki(Path(tmp) / "pki")
        return [run_drill(d, folder, Path(tmp)) for d in chosen]


def table_rows(results: Sequence[DrillResult]) -> list[list[str]]:
    """Rows for the drills table: scenario -> what the operator sees -> diagnosis -> fix."""
    return [
        [
            r.name,
            r.scenario,
            r.symptom,
            f"{r.cause} ({'✔' if r.diagnosed else '✘ expected ' + r.expected})",
            r.fix,
        ]
        for r in results
    ]


def table(results: Sequence[DrillResult], answers: bool = False) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the drills table. Without ``answers`` the scenario, the cause and the fix
    stay out of sight (the trainee sees the symptom and whether the diagnosis was right)."""
    if answers:
        return ["drill", "scenario", "what the operator sees", "diagnosis", "fix"], table_rows(results)
    rows = [[r.name, r.symptom, "✔ diagnosed" if r.diagnosed else "✘ misdiagnosed"] for r in results]
    return ["drill", "what the operator sees", "diagnosis"], rows
