"""Local Redis servers for the runbook: start, status, stop (binary or docker backend).

A sandbox lives in ``<work>/sandbox/``: ``sandbox.json`` records the topology, the PKI in use
and each node (role, loopback host, TLS port, pid, folder); each node's folder holds its
``redis.conf`` and ``redis.log``. Ports are free loopback ports chosen at start. Readiness is
proven by a real mutual-TLS PING, never by sleeping. :func:`ensure` is idempotent so every
notebook can call it.

Modules, in import order (each uses only the ones above it):

================ ==============================================================================
``state``        :class:`Sandbox`, :class:`Node`, ``sandbox.json`` (:func:`status` reads it)
``ports``        free loopback ports (and cluster bus ports)
``node_config``  a node's redis.conf: :func:`base_conf` (the strict TLS section on loopback)
``probes``       one-connection probes: :func:`tls_answers`, :func:`tls_command`, :func:`handshake`
``readiness``    :func:`wait_ready`, :func:`pid_alive`, :func:`log_tail` (why a server died)
``binary``       the process backend: ``redis-server`` binary, version, :func:`prove_tls_support`
``docker``       the docker backend (official image, host network, PKI mounted read-only)
``nodes``        one node whichever backend: :func:`start_node`, :func:`stop_node`, :func:`node_alive`
``link_checks``  replication and cluster-bus links over TLS: :func:`links`
``topologies``   standalone / replica / cluster bring-up, :func:`form_cluster`
``verification`` :func:`verify`, :func:`verify_endpoint`, :func:`verify_external` (check results)
``lifecycle``    :func:`start`, :func:`ensure`, :func:`stop`, :func:`status_dict`, :func:`reload_tls`
================ ==============================================================================
"""

from runbook.client import Endpoint, TlsClientFiles, redis_client
from runbook.sandbox.binary import (
    INSTALL_HINT,
    MIN_VERSION,
    prove_tls_support,
    redis_server_binary,
    redis_server_version,
    spawn_process,
)
from runbook.sandbox.docker import (
    DEFAULT_IMAGE,
    DOCKER_DATA,
    DOCKER_PKI,
    IMAGE_ENV,
    container_conf,
    container_name,
    docker_available,
    docker_check,
    docker_image,
    docker_run_args,
)
from runbook.sandbox.lifecycle import ensure, healthy, reload_tls, start, status_dict, stop
from runbook.sandbox.link_checks import _cluster_info, links
from runbook.sandbox.node_config import base_conf, conf_text
from runbook.sandbox.nodes import node_alive, start_node, stop_node
from runbook.sandbox.ports import free_port
from runbook.sandbox.probes import (
    HandshakeDetails,
    _resp_complete,
    command,
    handshake,
    handshake_rows,
    plaintext_answers,
    server_version,
    tls_answers,
    tls_command,
)
from runbook.sandbox.readiness import log_tail, pid_alive, wait_ready, wait_ready_plaintext
from runbook.sandbox.state import (
    BACKENDS,
    CLUSTER_SLOTS,
    LOOPBACK,
    STATE_FILE,
    TOPOLOGIES,
    Node,
    Sandbox,
    state_path,
    status,
)
from runbook.sandbox.topologies import form_cluster
from runbook.sandbox.verification import plaintext_port_check, verify, verify_endpoint, verify_external

__all__ = [
    "BACKENDS",
    "CLUSTER_SLOTS",
    "DEFAULT_IMAGE",
    "DOCKER_DATA",
    "DOCKER_PKI",
    "IMAGE_ENV",
    "INSTALL_HINT",
    "LOOPBACK",
    "MIN_VERSION",
    "STATE_FILE",
    "TOPOLOGIES",
    "Endpoint",
    "HandshakeDetails",
    "Node",
    "Sandbox",
    "TlsClientFiles",
    "_cluster_info",
    "_resp_complete",
    "base_conf",
    "command",
    "conf_text",
    "container_conf",
    "container_name",
    "docker_available",
    "docker_check",
    "docker_image",
    "docker_run_args",
    "ensure",
    "form_cluster",
    "free_port",
    "handshake",
    "handshake_rows",
    "healthy",
    "links",
    "log_tail",
    "node_alive",
    "pid_alive",
    "plaintext_answers",
    "plaintext_port_check",
    "prove_tls_support",
    "redis_client",
    "redis_server_binary",
    "redis_server_version",
    "reload_tls",
    "server_version",
    "spawn_process",
    "start",
    "start_node",
    "state_path",
    "status",
    "status_dict",
    "stop",
    "stop_node",
    "tls_answers",
    "tls_command",
    "verify",
    "verify_endpoint",
    "verify_external",
    "wait_ready",
    "wait_ready_plaintext",
]
