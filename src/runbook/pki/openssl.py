"""The ``openssl`` commands that build the same strict PKI, for operators who must use the CLI."""

from __future__ import annotations

from collections.abc import Sequence

from runbook.pki.builders import ORGANIZATION
from runbook.pki.keys import validate_key_type
from runbook.pki.paths import DEFAULT_CLIENT


def openssl_commands(
    pki_dir: str = "pki",
    hostnames: Sequence[str] = ("localhost",),
    ips: Sequence[str] = ("127.0.0.1",),
    client: str = DEFAULT_CLIENT,
    days: int = 365,
    ca_days: int = 3650,
    key_type: str = "ecdsa-p256",
) -> str:
    """The equivalent ``openssl`` commands (same strict profile), for operators who must use the CLI."""
    kt = validate_key_type(key_type)
    if kt == "ecdsa-p256":
        genkey = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out"
        usage = "digitalSignature"
    else:
        genkey = f"openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:{kt.split('-')[1]} -out"
        usage = "digitalSignature,keyEncipherment"
    san = ",".join([f"DNS:{h}" for h in hostnames] + [f"IP:{i}" for i in ips])
    cn = hostnames[0] if hostnames else (ips[0] if ips else "redis")

    def leaf(name: str, subject_cn: str, eku: str, alt: str) -> list[str]:
        return [
            f"{genkey} {name}.key",
            f"openssl req -new -key {name}.key -subj '/O={ORGANIZATION}/CN={subject_cn}' -out {name}.csr",
            f"openssl x509 -req -in {name}.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days {days} \\",
            f"  -extfile <(printf '%s\\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,{usage}' \\",
            f"    'extendedKeyUsage={eku}' 'subjectAltName={alt}' 'subjectKeyIdentifier=hash' \\",
            f"    'authorityKeyIdentifier=keyid') -out {name}.crt",
        ]

    return "\n".join(
        [
            f"mkdir -p {pki_dir} && chmod 700 {pki_dir} && cd {pki_dir}",
            "umask 077  # keys are private from the first byte",
            f"{genkey} ca.key",
            f"openssl req -x509 -new -key ca.key -sha256 -days {ca_days} -subj '/O={ORGANIZATION}/CN=redis-tls-runbook CA' \\",
            "  -addext 'basicConstraints=critical,CA:TRUE,pathlen:0' -addext 'keyUsage=critical,keyCertSign,cRLSign' \\",
            "  -addext 'subjectKeyIdentifier=hash' -addext 'authorityKeyIdentifier=keyid' -out ca.crt",
            *leaf("redis-server", cn, "serverAuth", san),
            *leaf(client, client, "clientAuth", f"DNS:{client}"),
            "chmod 644 ca.crt redis-server.crt " + f"{client}.crt && rm -f *.csr ca.srl",
            f"openssl verify -x509_strict -CAfile ca.crt redis-server.crt {client}.crt",
        ]
    )
