"""The PKI Redis TLS needs: a CA, a server certificate and client certificates.

Everything follows a strict RFC 5280 profile so that Python 3.13's ``VERIFY_X509_STRICT``,
``openssl verify -x509_strict``, ``cryptography.x509.verification`` and sslyze accept it:

* CA: basicConstraints critical (CA:TRUE, pathlen 0), keyUsage critical (keyCertSign, cRLSign),
  SKI and AKI.
* Leaves: basicConstraints critical CA:FALSE, keyUsage critical (digitalSignature, plus
  keyEncipherment for RSA), EKU serverAuth or clientAuth, SAN non-critical, SKI and AKI.
* Random serials, SHA-256, ECDSA P-256 by default (RSA 2048/3072/4096 on request).

Building is in memory (:func:`make_ca`, :func:`make_leaf`); :func:`create_pki` validates every
input first, then writes all files at once (keys 0600 from the first byte, directory 0700),
never overwriting without ``force`` and backing up before any replacement.

Modules, in import order (each uses only the ones above it):

==================== ==========================================================================
``paths``            :class:`PkiPaths`: ``ca.crt``, ``redis-server.crt``, ``clients/<name>.crt`` ...
``validation``       hostnames, IPs, client names, days (operator input, checked before building)
``keys``             key types, :func:`generate_key`, :func:`load_key`, :func:`key_matches`, passphrases
``builders``         the strict profile in memory: :func:`make_ca`, :func:`make_leaf`, :class:`Issued`
``inspection``       :func:`load_certs`, :class:`CertInfo` / :func:`inspect`, :func:`signed_by`
``chains``           path validation: :func:`verify_server_cert`, :func:`verify_client_cert`
``directory_checks`` :func:`verify` (``runbook pki verify``) and :func:`ca_profile`, as check results
``create``           :func:`create_pki` with :class:`PkiSpec`: plan every file, then write at once
``openssl``          :func:`openssl_commands`, the same PKI with the openssl CLI
==================== ==========================================================================
"""

from runbook.pki.builders import BACKDATE, ORGANIZATION, Issued, make_ca, make_leaf
from runbook.pki.chains import verify_client_cert, verify_server_cert
from runbook.pki.create import PkiReport, PkiSpec, create_pki
from runbook.pki.directory_checks import ca_profile, verify
from runbook.pki.inspection import CertInfo, cert_info, evidence, inspect, load_cert, load_certs, signed_by
from runbook.pki.keys import (
    CA_ENV,
    KEY_TYPES,
    SERVER_KEY_ENV,
    KeyType,
    PrivateKey,
    generate_key,
    key_description,
    key_is_encrypted,
    key_matches,
    load_key,
    passphrase_from_env,
    validate_key_type,
)
from runbook.pki.openssl import openssl_commands
from runbook.pki.paths import CA_CERT, CA_KEY, DEFAULT_CLIENT, SERVER_CERT, SERVER_KEY, PkiPaths
from runbook.pki.validation import (
    LOCAL_HOSTNAMES,
    LOCAL_IPS,
    validate_client_name,
    validate_days,
    validate_hostname,
    validate_ip,
)

__all__ = [
    "BACKDATE",
    "CA_CERT",
    "CA_ENV",
    "CA_KEY",
    "DEFAULT_CLIENT",
    "KEY_TYPES",
    "LOCAL_HOSTNAMES",
    "LOCAL_IPS",
    "ORGANIZATION",
    "SERVER_CERT",
    "SERVER_KEY",
    "SERVER_KEY_ENV",
    "CertInfo",
    "Issued",
    "KeyType",
    "PkiPaths",
    "PkiReport",
    "PkiSpec",
    "PrivateKey",
    "ca_profile",
    "cert_info",
    "create_pki",
    "evidence",
    "generate_key",
    "inspect",
    "key_description",
    "key_is_encrypted",
    "key_matches",
    "load_cert",
    "load_certs",
    "load_key",
    "make_ca",
    "make_leaf",
    "openssl_commands",
    "passphrase_from_env",
    "signed_by",
    "validate_client_name",
    "validate_days",
    "validate_hostname",
    "validate_ip",
    "validate_key_type",
    "verify",
    "verify_client_cert",
    "verify_server_cert",
]
