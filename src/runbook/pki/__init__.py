"""The PKI Redis TLS needs: a CA, a server certificate and client certificates."""

from runbook.pki.builders import BACKDATE, Issued, make_ca, make_leaf
from runbook.pki.chains import verify_client_cert, verify_server_cert
from runbook.pki.create import PkiReport, PkiSpec, create_pki
from runbook.pki.directory_checks import ca_profile, verify
from runbook.pki.foreign import (
    GuidePki,
    cn_only_leaf,
    guide_ca,
    guide_leaf,
    guide_lines,
    intermediate_ca,
    leaf_without_aki,
    root_ca,
    write_guide_pki,
)
from runbook.pki.inspection import CertInfo, cert_info, evidence, inspect, load_cert, load_certs, signed_by
from runbook.pki.keys import (
    CA_ENV,
    KEY_TYPES,
    PrivateKey,
    generate_key,
    key_description,
    key_is_encrypted,
    key_matches,
    load_key,
    passphrase_from_env,
)
from runbook.pki.lifetime import chain_expiry, chain_not_after, expiry, judged_chain
from runbook.pki.openssl import openssl_commands
from runbook.pki.paths import DEFAULT_CLIENT, PkiPaths
from runbook.pki.resign import resign_ca, resign_ca_cert
from runbook.pki.strictness import (
    SAN_ONLY_CLIENTS,
    STRICT_CLIENTS,
    ca_fix,
    ca_problems,
    common_names,
    is_ip,
    name_match,
    served_names,
    strict_findings,
)
from runbook.pki.validation import validate_client_name, validate_days, validate_hostname
