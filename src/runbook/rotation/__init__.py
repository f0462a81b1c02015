"""Zero-downtime certificate rotation: plan -> preflight -> backup -> swap -> reload -> verify -> rollback.

Redis never re-reads certificate files on its own: it reloads them when ``CONFIG SET`` names a
TLS file (naming the same path re-reads it), and ``CONFIG SET tls-cert-file A tls-key-file B``
swaps both in one atomic call (a failed call leaves the old TLS context serving). There is no
``DEBUG RELOAD-TLS``. Connections opened before a reload keep their session; new handshakes get
the new certificate.

One rotation works over a list of nodes (:class:`NodeTarget`: its :class:`~runbook.client.Endpoint`,
the paths the server reads, and the outgoing-link ``tls-client-cert-file``/``tls-client-key-file``
when set), node by node, each verified before the next:

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

Where each part lives (imports flow down this list, never up):

- :mod:`.report`: :class:`PlanStep`, :class:`RotationReport`, plan rows, file digests;
- :mod:`.targets`: :class:`NodeTarget`, :func:`discover_node`, :func:`served_certificate`;
- :mod:`.issuing`: :func:`reissue_like`, loading the CA and supplied material;
- :mod:`.preflight`: :func:`preflight_leaf` and the gate that stops a refused rotation or dry run;
- :mod:`.verify`: what verified means (served certificate, old connection, links, cluster);
- :mod:`.apply`: backup, atomic swap, the one ``CONFIG SET`` reload, verify, rollback;
- :mod:`.commands`: deploy commands for an external server, the Sentinel restart procedure;
- :mod:`.server_cert`, :mod:`.client_cert`, :mod:`.ca` (+ :mod:`.ca_phases`): the three kinds;
- :mod:`.run`: :func:`rotate`, the entry point;
- :mod:`.served`: what an external server serves after a deploy; :mod:`.drills`: bad material.
"""

from runbook.rotation.apply import reload_tls
from runbook.rotation.ca import ca_state
from runbook.rotation.commands import deploy_commands, sentinel_procedure
from runbook.rotation.drills import DRILLS, drill_material
from runbook.rotation.issuing import reissue_like
from runbook.rotation.preflight import ClientTrust, preflight_leaf, served_chain_check
from runbook.rotation.report import (
    CA_PHASES,
    KINDS,
    Fault,
    Kind,
    PlanStep,
    RotationReport,
    file_digests,
    plan_rows,
)
from runbook.rotation.run import rotate
from runbook.rotation.served import verify_served
from runbook.rotation.targets import (
    NodeTarget,
    discover_node,
    nodes_from_sandbox,
    serial_of,
    served_by,
    served_certificate,
    serves_visible_files,
)
from runbook.rotation.verify import LINK_TIMEOUT, wait_link_up

__all__ = [
    "CA_PHASES",
    "DRILLS",
    "KINDS",
    "LINK_TIMEOUT",
    "Fault",
    "Kind",
    "NodeTarget",
    "PlanStep",
    "RotationReport",
    "ca_state",
    "deploy_commands",
    "discover_node",
    "drill_material",
    "file_digests",
    "nodes_from_sandbox",
    "plan_rows",
    "preflight_leaf",
    "reissue_like",
    "reload_tls",
    "rotate",
    "sentinel_procedure",
    "serial_of",
    "served_by",
    "served_certificate",
    "serves_visible_files",
    "verify_served",
    "wait_link_up",
]
