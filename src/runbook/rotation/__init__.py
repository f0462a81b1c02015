"""Zero-downtime certificate rotation: plan -> preflight -> backup -> swap -> reload -> verify -> rollback."""

from runbook.rotation.apply import NodeWork, Rotation, reload_tls
from runbook.rotation.commands import deploy_commands, sentinel_procedure
from runbook.rotation.drills import DRILLS, check_params, drill_material
from runbook.rotation.issuing import load_signer, reissue_like
from runbook.rotation.preflight import ClientTrust, client_chain_check, preflight_leaf, server_names_check
from runbook.rotation.report import Fault, PlanStep, RotationReport, file_digests, plan_rows
from runbook.rotation.run import layout, rotate
from runbook.rotation.served import verify_served
from runbook.rotation.targets import (
    NodeTarget,
    discover_node,
    nodes_from_sandbox,
    serial_of,
    served_by,
    served_certificate,
    serves_visible_files,
    tls_settings,
)
from runbook.rotation.verify import LINK_TIMEOUT, wait_link_up
from runbook.rotation.volumes import secret_volume, watch_flags
