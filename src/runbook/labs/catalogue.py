"""The labs: a ticket (the symptom as an application team reports it), a broken setup built by a
drill builder (:mod:`runbook.drills`) and left running, three hint tiers, a reference fix and a
debrief. Names and titles never name the cause; :attr:`Lab.cause` (a
:data:`runbook.diagnose.CAUSE_INFO` id) is shown only by ``reveal``.
"""

from __future__ import annotations

from pathlib import Path

from runbook import config, drills, files, pki
from runbook.errors import RunbookError
from runbook.labs.foreign import FOREIGN_LABS
from runbook.labs.model import Debrief, Lab
from runbook.labs.state import (
    ClientSettings,
    LabState,
    read_client,
    restart_nodes,
    set_directives,
    version_name,
    write_client,
)

# --------------------------------------------------------------------------- builders (labs only)


def _server_cert_client_usage(env: drills.DrillEnv) -> drills.Setup:
    crt, key = env.write_pair("server", env.leaf("client", "localhost", ips=["127.0.0.1", "::1"]))
    return drills.Setup(
        env.start("server", tls_cert_file=crt, tls_key_file=key).endpoint, env.client_kwargs()
    )


def _replica_link_plaintext(env: drills.DrillEnv) -> drills.Setup:
    """Three nodes; replica-b was rolled out without TLS on its replication link."""
    cert, key = str(env.paths.client_cert()), str(env.paths.client_key())
    primary = env.start(
        "primary",
        tls_replication="yes",
        repl_diskless_sync_delay="0",
        tls_client_cert_file=cert,
        tls_client_key_file=key,
    )
    of = f"127.0.0.1 {primary.port}"
    env.start(
        "replica-a", tls_replication="yes", replicaof=of, tls_client_cert_file=cert, tls_client_key_file=key
    )
    bad = env.start(
        "replica-b", tls_replication="no", replicaof=of, tls_client_cert_file=cert, tls_client_key_file=key
    )
    return drills.Setup(bad.endpoint, env.client_kwargs(), str(bad.log_path))


# --------------------------------------------------------------------------- reference fixes


def _restart(state: LabState) -> None:
    restart_nodes(state)


def _pki_server_pair(state: LabState) -> None:
    paths = pki.PkiPaths(Path(state.pki_dir))
    for node in state.nodes:
        set_directives(
            state,
            node,
            {
                "tls-cert-file": str(paths.server_cert),
                "tls-key-file": str(paths.server_key),
                "tls-key-file-pass": None,
            },
        )
    restart_nodes(state)


def _client(state: LabState, **changes: object) -> None:
    data = {**read_client(state).to_dict(), **changes}
    write_client(state, ClientSettings.from_dict(data))


def _client_pki_identity(state: LabState) -> None:
    paths = pki.PkiPaths(Path(state.pki_dir))
    _client(state, cert=str(paths.client_cert()), key=str(paths.client_key()))


def _client_new_identity(state: LabState) -> None:
    """Issue the application its own clientAuth certificate from the server's CA."""
    pki.create_pki(state.pki_dir, pki.PkiSpec(clients=[pki.DEFAULT_CLIENT, "app"]))
    paths = pki.PkiPaths(Path(state.pki_dir))
    _client(state, cert=str(paths.client_cert("app")), key=str(paths.client_key("app")))


def _client_trusts_pki(state: LabState) -> None:
    _client(state, ca=str(pki.PkiPaths(Path(state.pki_dir)).ca_cert))


def _client_tls_on(state: LabState) -> None:
    paths = pki.PkiPaths(Path(state.pki_dir))
    _client(
        state, tls=True, ca=str(paths.ca_cert), cert=str(paths.client_cert()), key=str(paths.client_key())
    )


def _client_modern(state: LabState) -> None:
    _client(state, min_version="TLSv1.2", max_version="", ciphers="")


def _tls_on_its_port(state: LabState) -> None:
    node = state.app
    set_directives(state, node, {"tls-port": str(node.plaintext_port), "port": "0"})
    restart_nodes(state)


def _strict_ciphers(state: LabState) -> None:
    """The strict preset's tls-protocols and tls-ciphers (as `runbook config render` writes them)."""
    strict = config.directives(config.settings_for_pki(state.pki_dir, "strict", tls_port=state.app.port))
    set_directives(state, state.app, {k: strict[k] for k in ("tls-protocols", "tls-ciphers")})
    restart_nodes(state)


def _key_passphrase(state: LabState) -> None:
    set_directives(state, state.app, {"tls-key-file-pass": drills.KEY_PASSPHRASE})
    restart_nodes(state)


def _replica_client_identity(state: LabState) -> None:
    paths = pki.PkiPaths(Path(state.pki_dir))
    replica = state.node("replica")
    set_directives(
        state,
        replica,
        {"tls-client-cert-file": str(paths.client_cert()), "tls-client-key-file": str(paths.client_key())},
    )
    restart_nodes(state, ["replica"])


def _replica_link_tls(state: LabState) -> None:
    set_directives(state, state.node("replica-b"), {"tls-replication": "yes"})
    restart_nodes(state, ["replica-b"])


def write_passphrase_note(root: Path) -> Path:
    """The vault lab's secret store: the key passphrase the security team handed over (0600)."""
    return files.write_file(root / "key-passphrase.txt", f"{drills.KEY_PASSPHRASE}\n".encode(), files.PRIVATE)


_TOOLS = "`runbook diagnose`, `openssl s_client`, `redis-cli --tls`"
_CERT_LOOK = "the certificate the server presents, compared with what the application expects"
_REJECTED = r"certificate verify failed|CERTIFICATE_VERIFY_FAILED"
_DROPPED = r"EOF|reset|closed|alert|ConnectionError|handshake"

LABS: tuple[Lab, ...] = (
    Lab(
        "monday-morning",
        "Session cache unreachable after the weekend patching",
        "Since the host was patched on Saturday the session service logs `Connection refused` for Redis. "
        "Nobody changed the application.",
        "server-unreachable",
        drills.get("server-down").build,
        _restart,
        (
            "Is anything listening on the port the application uses?",
            "`ss -ltn`, the node's redis.log in the lab folder, `runbook diagnose`.",
            "Start the server from its unchanged config, the way systemd would: `runbook lab restart`.",
        ),
        Debrief(
            "redis-server was not running: the patch reboot left it stopped.",
            "Connection refused (not a TLS error) means nothing listens; the log ends with the shutdown.",
            "Enable the service so it starts at boot, and alert on the exporter's up metric.",
        ),
        r"Connection refused|Errno 111",
    ),
    Lab(
        "billing-onboarding",
        "New billing service cannot connect to the cache",
        "The billing team deployed their service against the shared Redis. Every connection fails during "
        "the TLS handshake with `certificate verify failed`. Other services are fine.",
        "untrusted-ca",
        drills.get("untrusted-ca").build,
        _client_trusts_pki,
        (
            "Which CA does the application trust, and which CA issued the server certificate?",
            "`openssl s_client -showcerts` (the issuer), `runbook pki inspect` on the application's files.",
            "Give the application the CA that issued the server certificate (client.json `ca`).",
        ),
        Debrief(
            "The application trusted another CA than the one that issued the server certificate.",
            "`unable to get local issuer certificate` / `self-signed certificate in chain` on the client.",
            "Ship the CA bundle with the service's config from the same source as the server's CA.",
        ),
        _REJECTED,
    ),
    Lab(
        "reporting-renewal",
        "Nightly reporting job fails TLS verification since the certificate renewal",
        "Since the cache certificate was renewed last week the reporting job cannot connect: the TLS "
        "handshake fails with `certificate verify failed`. The job connects to localhost, as before.",
        "hostname-mismatch",
        drills.get("san-mismatch").build,
        _pki_server_pair,
        (
            "Compare the name the job connects with against the names in the server certificate.",
            f"{_TOOLS}; `runbook pki inspect` shows the SANs.",
            "Serve a certificate that lists the name clients use (the lab PKI's redis-server.crt does), "
            "or connect with a name the certificate lists.",
        ),
        Debrief(
            "The renewed certificate was issued for redis.internal only; clients connect to localhost.",
            "`Hostname mismatch` / `IP address mismatch` in the client's error; the SANs in `pki inspect`.",
            "Issue certificates from a template that lists every name clients use; verify before deploying.",
        ),
        r"mismatch|doesn't match",
    ),
    Lab(
        "midnight-outage",
        "Every client lost the cache at midnight",
        "At 00:00 all services started failing to connect to Redis: `certificate verify failed`. "
        "No deployment happened.",
        "cert-expired",
        drills.get("expired-server-cert").build,
        _pki_server_pair,
        (
            "Something time-related changed at midnight: look at the validity of what the server presents.",
            "`openssl s_client` then `openssl x509 -noout -dates`; `runbook pki inspect`.",
            "Serve a certificate that is in date (issue one, or the lab PKI's redis-server.crt) and restart "
            "(or `runbook rotate server`).",
        ),
        Debrief(
            "The server certificate expired.",
            "`certificate has expired` in the client error; notAfter in the past.",
            "Monitor expiry (`runbook check --prometheus`), renew early, reload with `runbook watch`.",
        ),
        _REJECTED,
    ),
    Lab(
        "fresh-deploy",
        "Freshly deployed cache rejected by every client",
        "The new cache server went live this morning and no client can connect: `certificate verify "
        "failed` right at the handshake. The old server was fine with the same clients.",
        "cert-not-yet-valid",
        drills.get("future-server-cert").build,
        _pki_server_pair,
        (
            "Clients reject the server's certificate: check every field, dates included.",
            "`openssl x509 -noout -dates` on what the server presents; `date -u` on both hosts.",
            "Serve a certificate whose validity has started (the lab PKI's redis-server.crt) and restart.",
        ),
        Debrief(
            "The server certificate's notBefore is in the future (a wrong clock at issuance).",
            "`certificate is not yet valid` in the client error.",
            "Keep NTP on CA hosts; backdate notBefore a little when issuing.",
        ),
        _REJECTED,
    ),
    Lab(
        "inventory-service",
        "New inventory service dropped right after connecting",
        "The inventory service connects, the TLS handshake seems to work, then the first command fails "
        "with a connection error. redis-cli from the same host without extra options fails the same way.",
        "client-cert-missing",
        drills.get("missing-client-cert").build,
        _client_pki_identity,
        (
            "The server decides after the handshake: what does it require from clients?",
            "The server's log (`Error accepting a client connection`), `CONFIG GET tls-auth-clients`.",
            "Give the application a client certificate and key from the server's CA (client.json cert/key).",
        ),
        Debrief(
            "The server requires client certificates (tls-auth-clients yes); the service presented none.",
            "`peer did not return a certificate` in the server log; `certificate required` alert.",
            "Issue each service its own client certificate at onboarding.",
        ),
        _DROPPED,
    ),
    Lab(
        "analytics-contractor",
        "Analytics team's service rejected by Redis despite a valid certificate",
        "The analytics contractor's service presents a certificate they say is valid until next year, "
        "but Redis drops the connection right after the handshake.",
        "client-cert-untrusted",
        drills.get("client-cert-other-ca").build,
        _client_new_identity,
        (
            "Valid is not the same as trusted: who issued the certificate the service presents?",
            "`runbook pki inspect` on the service's certificate; the server's tls-ca-cert-file; its log.",
            "Issue the service a client certificate from the server's CA (`runbook pki create --dir PKI "
            "--client NAME`) and point client.json at it.",
        ),
        Debrief(
            "The client certificate was issued by a CA the server does not trust.",
            "`certificate verify failed` / `unknown ca` in the server log.",
            "One CA for Redis clients, certificates issued by the platform team only.",
        ),
        _DROPPED,
    ),
    Lab(
        "worker-pool",
        "Worker pool certificate refused by Redis",
        "The batch workers got a new certificate from the platform team yesterday. Since then Redis closes "
        "every worker connection right after the handshake.",
        "client-cert-wrong-usage",
        drills.get("client-cert-server-usage").build,
        _client_new_identity,
        (
            "The certificate is from the right CA: what is it allowed to be used for?",
            "`runbook pki inspect` (the EKU column), the server's log.",
            "Issue a client certificate (extendedKeyUsage clientAuth): `runbook pki create --dir PKI "
            "--client NAME`, then point client.json at it.",
        ),
        Debrief(
            "The workers presented a serverAuth-only certificate as a client certificate.",
            "`unsupported certificate purpose` in the server log; EKU serverAuth in `pki inspect`.",
            "Issue client certificates from a client template; check EKU in review.",
        ),
        _DROPPED,
    ),
    Lab(
        "cron-cleanup",
        "Cleanup cron job fails since the security cutover",
        "Since Redis was switched over last night the cleanup cron job fails on its first command with "
        "a connection reset. The job's code has not changed in two years.",
        "plaintext-to-tls-port",
        drills.get("plaintext-client-on-tls-port").build,
        _client_tls_on,
        (
            "What changed on the server last night, and what does the job still do the old way?",
            "The server's log (`wrong version number`), the job's settings (client.json).",
            "Make the job connect with TLS (client.json tls, ca, cert, key).",
        ),
        Debrief(
            "The job still spoke plaintext RESP to a TLS-only port.",
            "`wrong version number` / `http request` in the server log; reset on the client.",
            "Inventory every client before a cutover; keep the old port closed, not open.",
        ),
        r"reset|closed|Error|EOF",
    ),
    Lab(
        "half-migrated",
        "New TLS client hangs during the handshake",
        "We switched the pricing service to TLS as the migration plan says. Now every connection hangs and "
        "times out during the handshake. The server was supposed to be migrated already.",
        "tls-to-plaintext-port",
        drills.get("tls-client-on-plaintext-port").build,
        _tls_on_its_port,
        (
            "What does the port the service uses actually speak?",
            "`redis-cli -p PORT PING` without TLS; the server's redis.conf (port, tls-port).",
            "Finish the server's migration: TLS on the port clients use, the plaintext port closed "
            "(edit redis.conf, `runbook lab restart`).",
        ),
        Debrief(
            "The server still spoke plaintext only (tls-port 0): its half of the migration never happened.",
            "A plaintext PING answers; the TLS handshake reads non-TLS bytes or times out.",
            "Migrate servers first (`config render --preset migration`), verify, then clients.",
        ),
        r"timed out|timeout|WRONG_VERSION|wrong version|record layer|packet length|Error",
    ),
    Lab(
        "legacy-java",
        "Legacy Java app cannot connect to the new Redis",
        "The legacy order app cannot connect to the new Redis: the handshake fails immediately. The vendor "
        "says the app's TLS settings are 'the recommended ones from 2015'.",
        "protocol-mismatch",
        drills.get("tls11-client").build,
        _client_modern,
        (
            "Both sides must agree on a protocol version before anything else.",
            "`runbook diagnose`, `openssl s_client -tls1_2` vs `-tls1_1`, the app's settings (client.json).",
            "Let the app use TLS 1.2 or later (client.json min_version/max_version); never re-enable old "
            "versions on the server.",
        ),
        Debrief(
            "The app was capped at TLS 1.1; the server allows TLS 1.2 and 1.3 only.",
            "`protocol version` alert / `unsupported protocol`.",
            "Runtime and library upgrades; audit client TLS settings with `runbook check`.",
        ),
        r"protocol|PROTOCOL|version|handshake",
    ),
    Lab(
        "hardening-ticket",
        "PHP app cannot connect after the security hardening change",
        "After the change 'harden Redis TLS settings' the PHP app fails every handshake with a handshake "
        "failure alert. The Go services still work.",
        "no-shared-cipher",
        drills.get("cipher-mismatch").build,
        _strict_ciphers,
        (
            "The handshake fails before any certificate is checked: what do both sides offer?",
            "`runbook diagnose`, `openssl s_client -tls1_2 -cipher NAME`, the server's tls-ciphers/tls-protocols.",
            "Align the server's tls-ciphers/tls-protocols with a strict list clients support "
            "(`runbook config render`), then restart.",
        ),
        Debrief(
            "The hardening left one TLS 1.2 cipher the PHP app does not offer, and TLS 1.3 off.",
            "`no shared cipher` in the server log, `handshake failure` on the client.",
            "Use a reviewed strict preset (ECDHE + AEAD, TLS 1.2 and 1.3) instead of hand-picked lists.",
        ),
        r"handshake failure|HANDSHAKE_FAILURE|cipher",
    ),
    Lab(
        "night-rotation",
        "Redis does not come back after last night's certificate change",
        "The on-call engineer replaced the certificate files last night and restarted Redis. It has not "
        "come back since; clients get `Connection refused`.",
        "server-key-mismatch",
        drills.get("server-key-mismatch").build,
        _pki_server_pair,
        (
            "The server is not running: why did it stop at start-up?",
            "The node's redis.log (`Failed to ...`), `openssl x509 -pubkey` vs `openssl pkey -pubout`.",
            "Point tls-key-file at the key issued with tls-cert-file (edit redis.conf, `runbook lab restart`).",
        ),
        Debrief(
            "tls-key-file belonged to another certificate, so redis-server refused to start.",
            "`key values mismatch` in the log at start-up.",
            "Replace certificate and key together, preflight the pair before a restart (`runbook rotate`).",
        ),
        r"Connection refused|Errno 111",
    ),
    Lab(
        "cleanup-script",
        "Redis will not start since the disk cleanup job ran",
        "A disk cleanup script ran on the cache host at 03:00. Redis restarted at 04:00 for the kernel "
        "update and has been down since.",
        "server-file-unreadable",
        drills.get("server-key-unreadable").build,
        _pki_server_pair,
        (
            "The server is not running: what did it fail to load at start-up?",
            "The node's redis.log, `ls -l` on every path in the TLS section of redis.conf.",
            "Point the TLS file directives at files that exist and are readable (edit redis.conf, restart).",
        ),
        Debrief(
            "tls-key-file pointed at a key the cleanup removed (a dangling link).",
            "`Failed to load private key ... No such file` in the log.",
            "Keep TLS files in a managed folder the cleanup does not touch; lint with `runbook config lint`.",
        ),
        r"Connection refused|Errno 111",
    ),
    Lab(
        "vault-migration",
        "Redis fails to start after the key moved to encrypted storage",
        "Security encrypted the Redis private key as part of the vault migration; the passphrase they "
        "used is in key-passphrase.txt in the lab folder. Since the restart Redis is down.",
        "server-key-passphrase",
        drills.get("server-key-wrong-passphrase").build,
        _key_passphrase,
        (
            "The server is not running: what did it fail to do with its key?",
            "The node's redis.log, `openssl pkey -in KEY -noout` (asks for the passphrase).",
            "Set tls-key-file-pass to the passphrase in key-passphrase.txt (edit redis.conf, restart).",
        ),
        Debrief(
            "tls-key-file-pass did not match the key's passphrase.",
            "`Failed to load private key ... bad decrypt` in the log.",
            "Deliver key and passphrase together from the secret store; test with `openssl pkey` first.",
        ),
        r"Connection refused|Errno 111",
    ),
    Lab(
        "stale-replica",
        "Reads from the replica return stale data",
        "Product pages read from the replica and show yesterday's prices. The replica answers PING "
        "fine over TLS; the primary has today's data.",
        "outgoing-cert-wrong-usage",
        drills.get("replica-cert-without-clientauth").build,
        _replica_client_identity,
        (
            "The replica answers: is it replicating? Look at its link to the primary.",
            "`INFO replication` on the replica (master_link_status), both nodes' logs.",
            "Give the replica a clientAuth identity for its outgoing link (tls-client-cert-file / "
            "tls-client-key-file in its redis.conf), then `runbook lab restart --node replica`.",
        ),
        Debrief(
            "The replica presented its serverAuth-only certificate to a primary that requires client certs.",
            "master_link_status:down; `unsupported certificate` in the replica's log.",
            "Set tls-client-cert-file on every replicating node (`runbook config render --replication`).",
        ),
        r"True master_link_status:down",
    ),
    Lab(
        "new-cache-cert",
        "The new cache certificate is rejected by every client",
        "The platform team issued the new cache its certificate from the company CA. Every client fails "
        "the TLS handshake with `certificate verify failed`; the CA is the right one.",
        "server-cert-wrong-usage",
        _server_cert_client_usage,
        _pki_server_pair,
        (
            "The CA is right and the dates are right: what else in the certificate do clients check?",
            "`runbook pki inspect` (EKU), `openssl s_client` then `openssl x509 -noout -ext extendedKeyUsage`.",
            "Serve a certificate with extendedKeyUsage serverAuth (the lab PKI's redis-server.crt), restart.",
        ),
        Debrief(
            "The server certificate was issued from the client template (clientAuth only).",
            "`unsupported certificate purpose` in the client error.",
            "Separate server and client templates; `runbook pki verify` before deploying.",
        ),
        _REJECTED,
    ),
    Lab(
        "fleet-rollout",
        "One cache node serves stale data after the rollout",
        "After yesterday's rollout of three cache nodes (primary, replica-a, replica-b), one replica shows "
        "old data. All three answer PING over TLS.",
        "replication-link-down",
        _replica_link_plaintext,
        _replica_link_tls,
        (
            "All nodes answer: which one is not replicating, and how does its link differ from the others?",
            "`INFO replication` on each node, the nodes' redis.conf side by side, the primary's log.",
            "Make the bad replica's link use TLS like the others (tls-replication in its redis.conf), "
            "then `runbook lab restart --node replica-b`.",
        ),
        Debrief(
            "replica-b replicated without TLS; the primary only speaks TLS, so the link never came up.",
            "master_link_status:down on replica-b; `wrong version number` in the primary's log.",
            "Render every node's config from one template; audit links (`runbook sandbox status`, fleet).",
        ),
        r"True master_link_status:down",
    ),
    *FOREIGN_LABS,
)


def names() -> list[str]:
    return [lab.name for lab in LABS]


def get(name: str) -> Lab:
    for lab in LABS:
        if lab.name == name:
            return lab
    raise RunbookError(f"no lab named {name!r}: choose one of {', '.join(names())} (`runbook lab list`)")


def client_spec(setup: drills.Setup) -> dict[str, object]:
    """A drill setup's client kwargs as ``client.json`` fields."""
    c = setup.client
    tls = bool(c.get("tls", True))
    return {
        "host": setup.endpoint.host,
        "port": setup.endpoint.port,
        "server_name": setup.endpoint.host,
        "tls": tls,
        "verify": True,
        "ca": c.get("ca"),
        "cert": c.get("cert"),
        "key": c.get("key"),
        "min_version": version_name(c.get("min_version")) or ("TLSv1.2" if tls else ""),
        "max_version": version_name(c.get("max_version")),
        "ciphers": c.get("ciphers") or "",
    }
