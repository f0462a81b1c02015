"""Lint rules on replication and cluster links: they must use TLS, and present a clientAuth certificate."""

from __future__ import annotations

from cryptography import x509

from runbook.config.lint_support import Add, Pair, eku
from runbook.config.parsing import ParsedConfig
from runbook.config.settings import NODE_CLIENT


def lint_links(conf: ParsedConfig, add: Add, pairs: dict[str, Pair]) -> None:
    replica_of = conf.get("replicaof") or conf.get("slaveof")
    tls_repl = (conf.get("tls-replication") or "no").lower() == "yes"
    cluster = (conf.get("cluster-enabled") or "no").lower() == "yes"
    tls_cluster = (conf.get("tls-cluster") or "no").lower() == "yes"
    if replica_of and not tls_repl:
        add(
            "error",
            "tls-replication",
            f"replicaof {replica_of} without tls-replication yes: replication travels in plaintext "
            "(or fails against a TLS-only primary)",
            "set tls-replication yes and point replicaof at the primary's tls-port",
        )
    if cluster and not tls_cluster:
        add(
            "error",
            "tls-cluster",
            "cluster-enabled yes without tls-cluster yes: the cluster bus travels in plaintext",
            "set tls-cluster yes (and tls-replication yes)",
        )
    if cluster and tls_cluster and not tls_repl:
        add(
            "error",
            "tls-replication",
            "cluster-enabled yes without tls-replication yes: replicas in the cluster sync in plaintext",
            "set tls-replication yes",
        )
    links = bool(replica_of) or tls_repl or (cluster and tls_cluster)
    auth = (conf.get("tls-auth-clients") or "yes").lower()
    if not links or auth == "no":
        return
    directive = "tls-client-cert-file" if conf.get("tls-client-cert-file") else "tls-cert-file"
    cert = pairs["client" if directive == "tls-client-cert-file" else "server"].cert
    if cert is None:
        return
    usages = eku(cert)
    if usages is not None and x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
        add(
            "error",
            directive,
            f"{directive}: the certificate for outgoing replication/cluster links lacks clientAuth; a peer "
            "requiring client certificates refuses it; the replica logs each refused replication handshake "
            "('sslv3 alert unsupported certificate' or a reset connection) and INFO replication shows "
            "master_link_status:down",
            f"set tls-client-cert-file/tls-client-key-file to a clientAuth certificate (e.g. clients/{NODE_CLIENT}.crt)",
        )
