"""Why a TLS connection to Redis fails, in one line, and how to fix it.

:func:`diagnose` maps an exception (or an :class:`Outcome`) plus what we know about the attempt
(the ``context``: was TLS used, did the client present a certificate, the server log lines, facts
from probes) to a :class:`Diagnosis` with a stable ``cause`` id. The knowledge lives in ONE table,
:data:`SIGNATURES`: ordered rows of OpenSSL reason strings / alerts, redis-py exception texts,
server-log patterns and facts. The first row whose conditions all hold names the cause.

:func:`diagnose_endpoint` connects the way a client would (TCP, then TLS with the project's
``client.tls_context``, then a RESP ``PING``), runs a few read-only probes when the attempt fails
(does the port speak TLS or plaintext RESP, what alert does the server send, what certificate
does it present), reads the server log when it can (the sandbox's, or ``log_file``) and diagnoses.
It never changes the server; it opens a handful of short-lived connections.

The modules, lowest first (each imports only those above it):

* ``results``: :class:`Outcome` (what an attempt produced) and :class:`Diagnosis` (the verdict);
* ``signatures``: the table (:data:`CAUSE_INFO`, :data:`SIGNATURES`) and its views for display;
* ``error_text``: an exception chain as the lines the table's client-side rows read;
* ``server_log``: reading a redis-server log (prefixes stripped, since an offset, the sandbox's);
* ``cert_facts``: EKU and validity of local certificate files;
* ``verdict``: the matcher, :func:`diagnose`;
* ``probes``: :class:`ClientSpec`, :func:`attempt` and the read-only probes;
* ``endpoint``: :func:`diagnose_endpoint` (attempt + probes + log + verdict);
* ``negotiation``: one handshake's details, TLS versions and ciphers a server accepts;
* ``toolkit``: notebook 04's toolkit target (:class:`Toolkit`) and its steps.
"""

from runbook.diagnose.cert_facts import client_cert_facts
from runbook.diagnose.endpoint import diagnose_endpoint
from runbook.diagnose.error_text import describe_error, error_chain
from runbook.diagnose.negotiation import (
    TLS12_CIPHERS,
    VERSIONS,
    Handshake,
    ciphers_accepted,
    handshake,
    protocols_accepted,
)
from runbook.diagnose.probes import (
    TLS_ALERTS,
    ClientSpec,
    attempt,
    probe_hello,
    probe_tls,
    server_version,
)
from runbook.diagnose.results import Diagnosis, Outcome
from runbook.diagnose.server_log import (
    failed_key_is_encrypted,
    log_message,
    log_size,
    read_server_log,
    sandbox_log_for,
)
from runbook.diagnose.signatures import (
    CAUSE_INFO,
    CAUSES,
    NB_CERTS,
    NB_CLIENTS,
    NB_ROTATION,
    NB_SERVER,
    NB_TROUBLE,
    SIGNATURES,
    Cause,
    Signature,
    log_patterns,
    signature_table,
)
from runbook.diagnose.verdict import diagnose

__all__ = [
    "CAUSES",
    "CAUSE_INFO",
    "NB_CERTS",
    "NB_CLIENTS",
    "NB_ROTATION",
    "NB_SERVER",
    "NB_TROUBLE",
    "SIGNATURES",
    "TLS12_CIPHERS",
    "TLS_ALERTS",
    "VERSIONS",
    "Cause",
    "ClientSpec",
    "Diagnosis",
    "Handshake",
    "Outcome",
    "Signature",
    "attempt",
    "ciphers_accepted",
    "client_cert_facts",
    "describe_error",
    "diagnose",
    "diagnose_endpoint",
    "error_chain",
    "failed_key_is_encrypted",
    "handshake",
    "log_message",
    "log_patterns",
    "log_size",
    "probe_hello",
    "probe_tls",
    "protocols_accepted",
    "read_server_log",
    "sandbox_log_for",
    "server_version",
    "signature_table",
]
