"""Local Redis servers for the runbook: start, status, stop (binary or docker backend)."""

from runbook.client import Endpoint, TlsClientFiles, redis_client
from runbook.sandbox.binary import prove_tls_support, redis_server_binary, redis_server_version, spawn_process
from runbook.sandbox.docker import CONTAINER_LOG, docker_run_args
from runbook.sandbox.engine import IMAGE_ENV, ImageInfo, docker_available, image_info, require_image
from runbook.sandbox.image import apt_mirror, build_image
from runbook.sandbox.lifecycle import ensure, healthy, reload_tls, start, status_dict, stop
from runbook.sandbox.link_checks import cluster_info, links
from runbook.sandbox.node_config import base_conf, conf_text
from runbook.sandbox.nodes import node_alive, start_node, stop_node
from runbook.sandbox.ports import free_port
from runbook.sandbox.probes import handshake, handshake_rows
from runbook.sandbox.readiness import log_tail, pid_alive, wait_listening, wait_ready, wait_ready_plaintext
from runbook.sandbox.state import (
    BACKEND_ENV,
    BACKENDS,
    STATE_FILE,
    TOPOLOGIES,
    Node,
    Sandbox,
    resolve_backend,
    state_path,
    status,
)
from runbook.sandbox.verification import plaintext_port_check, verify, verify_endpoint, verify_external
