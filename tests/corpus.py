"""A corpus of deployments built the way common tools build them, each served by a real redis-server.

Every recipe writes the files its tool writes (names, layout, extensions, criticality, key types,
lifetimes) into a directory and returns a :class:`Deployment`: plain data naming the files Redis
serves, the identity an operator's admin client uses, the name clients verify, and what a correct
assessment says about it (``cause``: what ``diagnose`` must name; ``findings``: what ``adopt`` must
report). :func:`start` runs redis-server on loopback with the deployment's own files.

The recipes (written from the tools' documentation and sources, not copied):

``guide``           the common guide's openssl lines: ``openssl req -x509`` CA (basicConstraints and key
                    identifiers from openssl.cnf's v3_ca, no keyUsage), RSA leaves with a SAN extfile
``gen-test-certs``  Redis's ``utils/gen-test-certs.sh``: RSA-4096 CA by ``req -x509``, ``redis.crt``
                    (no restrictions), ``client.crt`` (keyUsage + nsCertType client); CN only, no SANs
``step``            step-ca: root -> intermediate (P-256, certSign+cRLSign, pathlen 1/0) -> 24 h leaves
                    (digitalSignature, serverAuth+clientAuth); each leaf file holds leaf + intermediate
``cert-manager``    a cert-manager CA issuer's secret volume: ``tls.crt tls.key ca.crt`` symlinked through
                    ``..data -> ..2026_...``; empty subject, critical SAN, no EKU (default usages)
``helm``            Helm/sprig ``genCA`` + ``genSignedCert``: RSA-2048, CA keyUsage without cRLSign and
                    with serverAuth+clientAuth EKU, no pathlen; PKCS#1 keys
``chain``           (:func:`build_chain`) root -> intermediate -> strict leaves for the rotation and watch
                    chain tests: a :class:`ChainSite` with renewals as step writes them, or leaf-only
``mkcert``          mkcert: ``rootCA.pem`` (RSA-3072, certSign only, pathlen 0), ``localhost+1.pem`` with
                    O/OU and no CN, ``localhost+1-client.pem`` for clientAuth, 2 years 3 months
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from runbook import pki, sandbox
from runbook.client import Endpoint, Mode, TlsClientFiles, tls_context
from runbook.pki import PkiPaths

RECIPES: tuple[str, ...] = ("guide", "gen-test-certs", "step", "cert-manager", "helm", "mkcert")
Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Deployment:
    """One deployment as its tool left it, and what a correct assessment of it says."""

    recipe: str
    root: Path
    ca: Path  # what the clients trust, and Redis's tls-ca-cert-file
    cert: Path  # Redis's tls-cert-file (leaf, or leaf + intermediate)
    key: Path  # Redis's tls-key-file
    client_cert: Path  # the operator's admin identity (redis-cli --cert)
    client_key: Path
    server_name: str  # the name clients verify
    ca_key: Path | None  # the key that signs leaves (the intermediate's for step)
    lifetime: dt.timedelta  # of the server leaf
    cause: str  # what diagnose names
    findings: frozenset[str] = field(default_factory=frozenset)  # what adopt reports

    @property
    def files(self) -> TlsClientFiles:
        return TlsClientFiles(str(self.ca), str(self.client_cert), str(self.client_key))

    def endpoint(self, port: int) -> Endpoint:
        return Endpoint("127.0.0.1", port, self.server_name, self.files, name=self.recipe, external=True)


def build(recipe: str, root: Path) -> Deployment:
    """Write the files of ``recipe`` under ``root`` (created) and describe them."""
    root.mkdir(parents=True, exist_ok=True)
    return _BUILDERS[recipe](root)


def copy(dep: Deployment, dest: Path) -> Deployment:
    """The deployment's files copied to ``dest`` (symlinks kept: a secret volume stays one), for tests
    that change them (rotation, migration)."""
    shutil.copytree(dep.root, dest, symlinks=True)

    def moved(p: Path | None) -> Path | None:
        return None if p is None else dest / p.relative_to(dep.root)

    return dataclasses.replace(
        dep,
        root=dest,
        ca=dest / dep.ca.relative_to(dep.root),
        cert=dest / dep.cert.relative_to(dep.root),
        key=dest / dep.key.relative_to(dep.root),
        client_cert=dest / dep.client_cert.relative_to(dep.root),
        client_key=dest / dep.client_key.relative_to(dep.root),
        ca_key=moved(dep.ca_key),
    )


def ping(dep: Deployment, port: int, mode: Mode = "compatible") -> str:
    """A fresh mutual-TLS PING with the deployment's client files, verified in ``mode`` (``compatible``: as
    redis-cli, OpenSSL's defaults with CN fallback); the reply, or ``refused: <why>``."""
    ctx = tls_context(dep.files, mode=mode)
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=3) as raw,
            ctx.wrap_socket(raw, server_hostname=dep.server_name) as tls,
        ):
            tls.sendall(b"*1\r\n$4\r\nPING\r\n")
            return tls.recv(64).decode()
    except (OSError, ssl.SSLError) as exc:
        return f"refused: {exc}"


def start(dep: Deployment, node_dir: Path, **extra: str) -> sandbox.Node:
    """Start redis-server on a free loopback port serving ``dep``'s own files (mutual TLS required).

    ``extra``: more directives (``_`` for ``-``), e.g. ``replicaof="127.0.0.1 6380"``. Returns once
    the port accepts TCP; the caller stops it with ``sandbox.stop_node``.
    """
    port = sandbox.free_port()
    directives = sandbox.served_conf(node_dir, port, dep.cert, dep.key, dep.ca, **extra)
    node = sandbox.start_node(dep.recipe, "primary", node_dir, directives, PkiPaths(dep.root), wait=False)
    sandbox.wait_listening(node)
    return node


# --------------------------------------------------------------------------- openssl CLI recipes


def _openssl(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(["openssl", *args], cwd=cwd, input=stdin, capture_output=True, check=False)
    if done.returncode:
        raise AssertionError(f"openssl {' '.join(args)}: {done.stderr.decode(errors='replace')}")
    return done.stdout


def _openssl_leaf(cwd: Path, name: str, subj: str, ca: str, ca_key: str, extra: Sequence[str]) -> None:
    """``openssl req -new | openssl x509 -req`` as the guides and gen-test-certs pipe it."""
    _openssl(cwd, "genrsa", "-out", f"{name}.key", "2048")
    csr = _openssl(cwd, "req", "-new", "-sha256", "-key", f"{name}.key", "-subj", subj)
    _openssl(
        cwd,
        "x509",
        "-req",
        "-sha256",
        "-CA",
        ca,
        "-CAkey",
        ca_key,
        "-CAserial",
        "ca.txt",
        "-CAcreateserial",
        "-days",
        "365",
        *extra,
        "-out",
        f"{name}.crt",
        stdin=csr,
    )


def _guide(root: Path) -> Deployment:
    """The common guide: a CA by ``openssl req -x509`` (no keyUsage), leaves with a SAN extfile."""
    _openssl(root, "genrsa", "-out", "ca.key", "4096")
    _openssl(
        root,
        "req",
        "-x509",
        "-new",
        "-nodes",
        "-sha256",
        "-key",
        "ca.key",
        "-days",
        "3650",
        "-subj",
        "/CN=Redis CA",
        "-out",
        "ca.crt",
    )
    (root / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl_leaf(root, "redis", "/CN=localhost", "ca.crt", "ca.key", ["-extfile", "san.ext"])
    _openssl_leaf(root, "client", "/CN=redis-client", "ca.crt", "ca.key", [])
    _assert_no_key_usage(root / "ca.crt")
    return Deployment(
        "guide",
        root,
        root / "ca.crt",
        root / "redis.crt",
        root / "redis.key",
        root / "client.crt",
        root / "client.key",
        "localhost",
        root / "ca.key",
        dt.timedelta(days=365),
        cause="ca-not-strict",
        findings=frozenset({"ca-not-strict"}),
    )


def _gen_test_certs(root: Path) -> Deployment:
    """Redis's utils/gen-test-certs.sh: tests/tls/{ca,redis,client,server}.{crt,key}, no SANs."""
    tls = root / "tests" / "tls"
    tls.mkdir(parents=True)
    _openssl(tls, "genrsa", "-out", "ca.key", "4096")
    _openssl(
        tls,
        "req",
        "-x509",
        "-new",
        "-nodes",
        "-sha256",
        "-key",
        "ca.key",
        "-days",
        "3650",
        "-subj",
        "/O=Redis Test/CN=Certificate Authority",
        "-out",
        "ca.crt",
    )
    (tls / "openssl.cnf").write_text(
        "[ server_cert ]\nkeyUsage = digitalSignature, keyEncipherment\nnsCertType = server\n\n"
        "[ client_cert ]\nkeyUsage = digitalSignature, keyEncipherment\nnsCertType = client\n"
    )
    ext = ["-extfile", "openssl.cnf", "-extensions"]
    _openssl_leaf(tls, "server", "/O=Redis Test/CN=Server-only", "ca.crt", "ca.key", [*ext, "server_cert"])
    _openssl_leaf(tls, "client", "/O=Redis Test/CN=Client-only", "ca.crt", "ca.key", [*ext, "client_cert"])
    _openssl_leaf(tls, "redis", "/O=Redis Test/CN=Generic-cert", "ca.crt", "ca.key", [])
    _assert_no_key_usage(tls / "ca.crt")
    return Deployment(
        "gen-test-certs",
        root,
        tls / "ca.crt",
        tls / "redis.crt",
        tls / "redis.key",
        tls / "client.crt",
        tls / "client.key",
        "Generic-cert",
        tls / "ca.key",
        dt.timedelta(days=365),
        cause="ca-not-strict",
        findings=frozenset({"ca-not-strict", "server-name-cn-only"}),
    )


def renew_guide_leaf(
    dep: Deployment,
    *,
    stem: str = "redis",
    extfile: str | None = "san.ext",
    issuer: Deployment | None = None,
) -> x509.Certificate:
    """The guide's renewal: its two openssl lines again (a new RSA key, then ``openssl x509 -req`` with
    the SAN extfile), written as ``<stem>.key`` then ``<stem>.crt`` beside the deployment's files
    (``stem="redis"``: over the served pair, key first). ``extfile=None``: the operator forgot
    ``-extfile`` (a v1 certificate, the name only in its CN); ``issuer``: signed by another
    deployment's CA (the wrong CA)."""
    ca = issuer or dep
    assert ca.ca_key is not None
    extra = ["-extfile", str(dep.root / extfile)] if extfile else []
    _openssl_leaf(dep.root, stem, "/CN=localhost", str(ca.ca), str(ca.ca_key), extra)
    return x509.load_pem_x509_certificate((dep.root / f"{stem}.crt").read_bytes())


def renew_gen_test_certs_leaf(
    dep: Deployment, *, stem: str = "redis", cn: str = "Generic-cert"
) -> x509.Certificate:
    """gen-test-certs.sh run again for ``redis.crt``: a new RSA key and ``openssl x509 -req`` without
    extensions (a v1 certificate: no extendedKeyUsage, no SAN, the name only in the CN ``cn``), written
    as ``<stem>.key`` then ``<stem>.crt`` in tests/tls (``stem="redis"``: over the served pair)."""
    tls = dep.cert.parent
    _openssl_leaf(tls, stem, f"/O=Redis Test/CN={cn}", "ca.crt", "ca.key", [])
    return x509.load_pem_x509_certificate((tls / f"{stem}.crt").read_bytes())


def _assert_no_key_usage(path: Path) -> None:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    assert not any(e.oid == x509.OID_KEY_USAGE for e in cert.extensions), "openssl.cnf added keyUsage"


# --------------------------------------------------------------------------- cryptography recipes


@dataclass
class _Spec:
    """One certificate as a tool's template describes it."""

    subject: x509.Name
    key: Key
    days: float
    ca: bool = False
    pathlen: int | None = None
    key_usage: Sequence[str] = ()
    eku: Sequence[x509.ObjectIdentifier] = ()
    dns: Sequence[str] = ()
    ips: Sequence[str] = ()
    ski: bool = True
    aki: bool = True
    backdate: dt.timedelta = dt.timedelta(0)


def _name(*pairs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


_KU = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


def _issue(spec: _Spec, issuer: tuple[x509.Certificate, Key] | None = None) -> x509.Certificate:
    """Sign ``spec`` (self-signed without ``issuer``) the way Go's crypto/x509 and step do: keyUsage
    and basicConstraints critical, SAN critical only when the subject is empty."""
    now = dt.datetime.now(dt.UTC) - spec.backdate
    signer_key = issuer[1] if issuer else spec.key
    b = (
        x509.CertificateBuilder()
        .subject_name(spec.subject)
        .issuer_name(issuer[0].subject if issuer else spec.subject)
        .public_key(spec.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + spec.backdate + dt.timedelta(days=spec.days))
        .add_extension(x509.BasicConstraints(ca=spec.ca, path_length=spec.pathlen), critical=True)
    )
    if spec.key_usage:
        flags = {k: k in spec.key_usage for k in _KU}
        b = b.add_extension(x509.KeyUsage(**flags, encipher_only=False, decipher_only=False), critical=True)
    if spec.eku:
        b = b.add_extension(x509.ExtendedKeyUsage(list(spec.eku)), critical=False)
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in spec.dns]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in spec.ips]
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=len(spec.subject) == 0)
    if spec.ski:
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(spec.key.public_key()), critical=False)
    if spec.aki and issuer:
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()), critical=False
        )
    return b.sign(signer_key, hashes.SHA256())


def _write(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return path


def _write_key(
    path: Path, key: Key, fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8
) -> Path:
    data = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def _p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _rsa(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


SERVER, CLIENT = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH


def step_with_intermediate(root: Path, lifetime: dt.timedelta, left: dt.timedelta) -> Deployment:
    """The ``step`` recipe whose intermediate lives ``lifetime`` and has ``left`` of it (an aging
    intermediate CA: the audit must judge it as it judges the leaf)."""
    root.mkdir(parents=True, exist_ok=True)
    return _step(root, left.total_seconds() / 86400, lifetime - left)


def _step(root: Path, inter_days: float = 3650, inter_age: dt.timedelta = dt.timedelta(0)) -> Deployment:
    """step-ca: certs/root_ca.crt, certs/intermediate_ca.crt, secrets/intermediate_ca_key; 24 h leaves
    issued by the intermediate, each .crt holding leaf + intermediate (``step ca certificate``)."""
    (root / "certs").mkdir()
    (root / "secrets").mkdir()
    root_key, int_key = _p256(), _p256()
    ca_ku = ("key_cert_sign", "crl_sign")
    root_ca = _issue(
        _Spec(_name((NameOID.COMMON_NAME, "Redis Root CA")), root_key, 3650, True, 1, ca_ku, aki=False)
    )
    inter = _issue(
        _Spec(
            _name((NameOID.COMMON_NAME, "Redis Intermediate CA")),
            int_key,
            inter_days,
            True,
            0,
            ca_ku,
            backdate=inter_age,
        ),
        (root_ca, root_key),
    )
    _write(root / "certs" / "root_ca.crt", root_ca)
    _write(root / "certs" / "intermediate_ca.crt", inter)
    _write_key(
        root / "secrets" / "intermediate_ca_key", int_key, serialization.PrivateFormat.TraditionalOpenSSL
    )
    one_minute = dt.timedelta(minutes=1)  # step backdates notBefore by a minute
    for name, subject in (("redis", "localhost"), ("client", "redis-admin")):
        key = _p256()
        leaf = _issue(
            _Spec(
                _name((NameOID.COMMON_NAME, subject)),
                key,
                1,
                key_usage=("digital_signature",),
                eku=(SERVER, CLIENT),
                dns=(subject,),
                ips=("127.0.0.1",) if name == "redis" else (),
                backdate=one_minute,
            ),
            (inter, int_key),
        )
        _write(root / f"{name}.crt", leaf, inter)
        _write_key(root / f"{name}.key", key, serialization.PrivateFormat.TraditionalOpenSSL)
    return Deployment(
        "step",
        root,
        root / "certs" / "root_ca.crt",
        root / "redis.crt",
        root / "redis.key",
        root / "client.crt",
        root / "client.key",
        "localhost",
        root / "secrets" / "intermediate_ca_key",
        dt.timedelta(days=1),
        cause="ok",
    )


def _cert_manager(root: Path) -> Deployment:
    """A cert-manager CA issuer's Secret mounted as a volume: the kubelet's atomic writer layout
    (``..2026_12_03_...`` directory, ``..data`` symlink to it, each key a symlink through ``..data``)."""
    ca_key, key = _rsa(2048), _rsa(2048)
    ca = _issue(
        _Spec(
            _name((NameOID.COMMON_NAME, "redis-ca")),
            ca_key,
            90,
            True,
            None,
            ("digital_signature", "key_encipherment", "key_cert_sign"),
            aki=False,
        )
    )
    leaf = _issue(
        _Spec(
            x509.Name([]),
            key,
            90,
            key_usage=("digital_signature", "key_encipherment"),
            dns=("redis-master.redis.svc.cluster.local", "localhost"),
            ski=False,
        ),
        (ca, ca_key),
    )
    volume = root / "secret"
    stamp = volume / "..2026_12_03_23_22_08.123456789"
    stamp.mkdir(parents=True)
    _write(stamp / "tls.crt", leaf)
    _write_key(stamp / "tls.key", key, serialization.PrivateFormat.TraditionalOpenSSL)
    _write(stamp / "ca.crt", ca)
    (volume / "..data").symlink_to(stamp.name)
    for name in ("tls.crt", "tls.key", "ca.crt"):
        (volume / name).symlink_to(f"..data/{name}")
    _write_key(root / "issuer-ca.key", ca_key)  # the CA secret lives elsewhere in the cluster
    return Deployment(
        "cert-manager",
        root,
        volume / "ca.crt",
        volume / "tls.crt",
        volume / "tls.key",
        volume / "tls.crt",  # the pod's own identity is also its client identity
        volume / "tls.key",
        "localhost",
        root / "issuer-ca.key",
        dt.timedelta(days=90),
        cause="ok",
    )


def renew_cert_manager_leaf(dep: Deployment) -> x509.Certificate:
    """cert-manager re-issuing the Certificate and the kubelet syncing the Secret: a new key and leaf
    (same template: empty subject, critical SAN, no EKU) from the same CA, written into a new
    ``..<timestamp>`` directory, then a new ``..data`` symlink renamed over the old one (the atomic
    writer's swap); the old directory is removed after, as the kubelet does."""
    volume = dep.cert.parent
    ca = x509.load_pem_x509_certificate((volume / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key(dep.ca_key.read_bytes() if dep.ca_key else b"", None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    key = _rsa(2048)
    leaf = _issue(
        _Spec(
            x509.Name([]),
            key,
            90,
            key_usage=("digital_signature", "key_encipherment"),
            dns=("redis-master.redis.svc.cluster.local", "localhost"),
            ski=False,
        ),
        (ca, ca_key),
    )
    old = os.readlink(volume / "..data")
    stamp = volume / f"..{dt.datetime.now(dt.UTC):%Y_%m_%d_%H_%M_%S.%f}"
    stamp.mkdir()
    _write(stamp / "tls.crt", leaf)
    _write_key(stamp / "tls.key", key, serialization.PrivateFormat.TraditionalOpenSSL)
    _write(stamp / "ca.crt", ca)
    (volume / "..data_tmp").symlink_to(stamp.name)
    os.replace(volume / "..data_tmp", volume / "..data")
    for f in (volume / old).iterdir():
        f.unlink()
    (volume / old).rmdir()
    return leaf


def _helm(root: Path) -> Deployment:
    """Helm's sprig ``genCA "redis-ca" 365`` and ``genSignedCert`` rendered into a Secret's files."""
    ca_key = _rsa(2048)
    usage = ("key_encipherment", "digital_signature")
    ca = _issue(
        _Spec(
            _name((NameOID.COMMON_NAME, "redis-ca")),
            ca_key,
            365,
            True,
            None,
            (*usage, "key_cert_sign"),
            eku=(SERVER, CLIENT),
            aki=False,
        )
    )
    out: dict[str, x509.Certificate] = {}
    keys: dict[str, rsa.RSAPrivateKey] = {}
    for name, cn, dns in (
        ("tls", "redis", ("redis-master.redis.svc", "localhost")),
        ("client", "redis-client", ()),
    ):
        keys[name] = _rsa(2048)
        out[name] = _issue(
            _Spec(
                _name((NameOID.COMMON_NAME, cn)),
                keys[name],
                365,
                key_usage=usage,
                eku=(SERVER, CLIENT),
                dns=dns,
                ski=False,
            ),
            (ca, ca_key),
        )
        _write(root / f"{name}.crt", out[name])
        _write_key(root / f"{name}.key", keys[name], serialization.PrivateFormat.TraditionalOpenSSL)
    _write(root / "ca.crt", ca)
    _write_key(root / "ca.key", ca_key, serialization.PrivateFormat.TraditionalOpenSSL)
    return Deployment(
        "helm",
        root,
        root / "ca.crt",
        root / "tls.crt",
        root / "tls.key",
        root / "client.crt",
        root / "client.key",
        "localhost",
        root / "ca.key",
        dt.timedelta(days=365),
        cause="ok",
    )


def renew_helm_leaf(dep: Deployment) -> None:
    """A Helm upgrade re-rendering ``genSignedCert`` with the same CA: a new server pair, written over
    the old one (key first, then certificate, as a Secret update lands)."""
    ca = x509.load_pem_x509_certificate(dep.ca.read_bytes())
    ca_key = serialization.load_pem_private_key(dep.ca_key.read_bytes() if dep.ca_key else b"", None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    key = _rsa(2048)
    leaf = _issue(
        _Spec(
            _name((NameOID.COMMON_NAME, "redis")),
            key,
            365,
            key_usage=("key_encipherment", "digital_signature"),
            eku=(SERVER, CLIENT),
            dns=("redis-master.redis.svc", "localhost"),
            ski=False,
        ),
        (ca, ca_key),
    )
    _write_key(dep.key, key, serialization.PrivateFormat.TraditionalOpenSSL)
    _write(dep.cert, leaf)


def renew_step_leaf(dep: Deployment, *, bundle: bool = True, cert: Path | None = None) -> x509.Certificate:
    """``step ca renew``: a new 24 h leaf for the same name from the intermediate, written as step
    writes it (leaf + intermediate) or, with ``bundle=False``, the leaf alone (a hand-made renewal that
    forgets the intermediate). Writes the key, then the certificate (``cert``: another file)."""
    inter = x509.load_pem_x509_certificate((dep.root / "certs" / "intermediate_ca.crt").read_bytes())
    int_key = serialization.load_pem_private_key(dep.ca_key.read_bytes() if dep.ca_key else b"", None)
    assert isinstance(int_key, ec.EllipticCurvePrivateKey)
    key = _p256()
    leaf = _issue(
        _Spec(
            _name((NameOID.COMMON_NAME, dep.server_name)),
            key,
            1,
            key_usage=("digital_signature",),
            eku=(SERVER, CLIENT),
            dns=(dep.server_name,),
            ips=("127.0.0.1",),
            backdate=dt.timedelta(minutes=1),
        ),
        (inter, int_key),
    )
    _write_key(dep.key, key, serialization.PrivateFormat.TraditionalOpenSSL)
    _write(cert or dep.cert, *((leaf, inter) if bundle else (leaf,)))
    return leaf


def _mkcert(root: Path) -> Deployment:
    """mkcert: CAROOT/rootCA.pem + rootCA-key.pem, ``mkcert localhost 127.0.0.1`` and ``-client``."""
    caroot = root / "mkcert"
    caroot.mkdir()
    who = "operator@build-host"
    ca_key = _rsa(3072)
    ca = _issue(
        _Spec(
            _name(
                (NameOID.ORGANIZATION_NAME, "mkcert development CA"),
                (NameOID.ORGANIZATIONAL_UNIT_NAME, who),
                (NameOID.COMMON_NAME, f"mkcert {who}"),
            ),
            ca_key,
            3650,
            True,
            0,
            ("key_cert_sign",),
            aki=False,
        )
    )
    _write(caroot / "rootCA.pem", ca)
    _write_key(caroot / "rootCA-key.pem", ca_key)
    subject = _name(
        (NameOID.ORGANIZATION_NAME, "mkcert development certificate"), (NameOID.ORGANIZATIONAL_UNIT_NAME, who)
    )
    for stem, eku in (("localhost+1", (SERVER,)), ("localhost+1-client", (CLIENT, SERVER))):
        key = _rsa(2048)
        leaf = _issue(
            _Spec(
                subject,
                key,
                365 * 2 + 90,
                key_usage=("key_encipherment", "digital_signature"),
                eku=eku,
                dns=("localhost",),
                ips=("127.0.0.1",),
                ski=False,
            ),
            (ca, ca_key),
        )
        _write(root / f"{stem}.pem", leaf)
        _write_key(root / f"{stem}-key.pem", key)
    return Deployment(
        "mkcert",
        root,
        caroot / "rootCA.pem",
        root / "localhost+1.pem",
        root / "localhost+1-key.pem",
        root / "localhost+1-client.pem",
        root / "localhost+1-client-key.pem",
        "localhost",
        caroot / "rootCA-key.pem",
        dt.timedelta(days=365 * 2 + 90),
        cause="ok",
    )


_BUILDERS = {
    "guide": _guide,
    "gen-test-certs": _gen_test_certs,
    "step": _step,
    "cert-manager": _cert_manager,
    "helm": _helm,
    "mkcert": _mkcert,
}


# --------------------------------------------------------------------------- the rotation chain site
#
# ``chain``: a root -> intermediate -> leaf deployment (the way step-ca and Vault issue) for the rotation
# and watch chain tests, with the strict profile's leaves (runbook.pki) so only the chain is at stake.
# Files, as such deployments keep them::
#
#     root.crt            the only anchor the clients trust (their --ca)
#     bundle.crt          root + intermediate: the server's tls-ca-cert-file
#     intermediate.crt    the issuing CA; intermediate.key signs leaves (--ca-key)
#     redis.crt/.key      the server's tls-cert-file: leaf + intermediate (as step writes it)
#     client.crt/.key     the operator's admin identity, issued by the intermediate

PEM = serialization.Encoding.PEM


def _chain_key_usage_ca() -> x509.KeyUsage:
    return x509.KeyUsage(False, False, False, False, False, True, True, False, False)


def _chain_ca(name: str, issuer: pki.Issued | None, path_length: int | None) -> pki.Issued:
    key = pki.generate_key("ecdsa-p256")
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    signer_ski = (
        issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value if issuer else ski
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_chain_key_usage_ca(), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(signer_ski), False)
        .sign(issuer.key if issuer else key, hashes.SHA256())
    )
    return pki.Issued(cert, key)


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(PEM) for c in certs)


def write_issued_key(path: Path, issued: pki.Issued) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(issued.key_pem())
    return path


@dataclass(frozen=True)
class ChainSite:
    root: Path
    anchor: pki.Issued  # the root CA
    inter: pki.Issued  # the issuing intermediate

    @property
    def root_ca(self) -> Path:
        return self.root / "root.crt"

    @property
    def bundle(self) -> Path:
        return self.root / "bundle.crt"

    @property
    def cert(self) -> Path:
        return self.root / "redis.crt"

    @property
    def key(self) -> Path:
        return self.root / "redis.key"

    @property
    def inter_key(self) -> Path:
        return self.root / "intermediate.key"

    @property
    def files(self) -> TlsClientFiles:
        """The operator's admin identity, trusting only the root (as every client does)."""
        return TlsClientFiles(str(self.root_ca), str(self.root / "client.crt"), str(self.root / "client.key"))

    def leaf(
        self, *, with_intermediate: bool, out: Path, name: str = "renewed", days: int = 365
    ) -> tuple[Path, Path]:
        """A renewed server pair signed by the intermediate: ``out/NAME.crt`` (leaf, or leaf +
        intermediate as step writes it) and ``out/NAME.key``."""
        out.mkdir(parents=True, exist_ok=True)
        new = pki.make_leaf(
            self.inter, "redis", purpose="server", hostnames=["localhost"], ips=["127.0.0.1"], days=days
        )
        cert = out / f"{name}.crt"
        cert.write_bytes(pem(new.cert, self.inter.cert) if with_intermediate else pem(new.cert))
        return cert, write_issued_key(out / f"{name}.key", new)


def build_chain(root: Path) -> ChainSite:
    """Write the files of a root -> intermediate deployment under ``root`` (created)."""
    root.mkdir(parents=True, exist_ok=True)
    anchor = _chain_ca("Chain Root CA", None, 1)
    inter = _chain_ca("Chain Intermediate CA", anchor, 0)
    site = ChainSite(root, anchor, inter)
    site.root_ca.write_bytes(pem(anchor.cert))
    site.bundle.write_bytes(pem(anchor.cert, inter.cert))
    (root / "intermediate.crt").write_bytes(pem(inter.cert))
    write_issued_key(site.inter_key, inter)
    server = pki.make_leaf(inter, "redis", purpose="server", hostnames=["localhost"], ips=["127.0.0.1"])
    site.cert.write_bytes(pem(server.cert, inter.cert))
    write_issued_key(site.key, server)
    client = pki.make_leaf(inter, "redis-admin", purpose="client", hostnames=["redis-admin"])
    (root / "client.crt").write_bytes(pem(client.cert, inter.cert))
    write_issued_key(root / "client.key", client)
    return site


def chain_directives(cert: Path, key: Path, ca: Path, node_dir: Path, port: int) -> dict[str, str]:
    """A mutual-TLS-only redis-server serving ``cert``/``key`` and trusting ``ca`` (IPv4 loopback only)."""
    return sandbox.served_conf(node_dir, port, cert, key, ca, bind="127.0.0.1")


def start_chain(
    site: ChainSite, node_dir: Path, cert: Path | None = None, key: Path | None = None, ca: Path | None = None
) -> sandbox.Node:
    """Start redis-server on a free loopback port serving the site's files; its tls-ca-cert-file is
    ``ca`` (default: the root + intermediate bundle)."""
    node_dir.mkdir(parents=True, exist_ok=True)
    port = sandbox.free_port()
    conf = chain_directives(cert or site.cert, key or site.key, ca or site.bundle, node_dir, port)
    node = sandbox.start_node("chain", "primary", node_dir, conf, PkiPaths(site.root), wait=False)
    sandbox.wait_listening(node)
    return node
