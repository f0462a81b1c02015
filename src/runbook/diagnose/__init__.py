"""Why a TLS connection to Redis fails, in one line, and how to fix it."""

from runbook.diagnose.cert_facts import client_cert_facts
from runbook.diagnose.endpoint import diagnose_endpoint
from runbook.diagnose.error_text import describe_error
from runbook.diagnose.negotiation import ciphers_accepted, handshake, protocols_accepted
from runbook.diagnose.probes import ClientSpec, attempt
from runbook.diagnose.results import Diagnosis, Outcome
from runbook.diagnose.server_log import failed_key_is_encrypted, log_size, read_server_log, sandbox_log_for
from runbook.diagnose.signatures import CAUSE_INFO, CAUSES, SIGNATURES, log_patterns, signature_table
from runbook.diagnose.verdict import diagnose
