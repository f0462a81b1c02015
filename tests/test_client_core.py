"""The one Endpoint, the one TLS context factory (strict / compatible / none) and the one wire module."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest

from guide_certs import guide_style_ca
from runbook import files, pki, sandbox
from runbook.client import (
    Endpoint,
    TlsClientFiles,
    address,
    cipher_suites,
    memory_handshake,
    tls_context,
    wire,
)


def test_endpoint_address_brackets_ipv6_and_names_what_it_verifies() -> None:
    v4 = Endpoint("127.0.0.1", 6380)
    v6 = Endpoint("::1", 6380, "redis.example", name="cache-1")
    assert (v4.address, v4.hostname, v4.label, v4.who) == (
        "127.0.0.1:6380",
        "127.0.0.1",
        "127.0.0.1:6380",
        "127.0.0.1:6380",
    )
    assert (v6.address, v6.hostname, v6.label, v6.who) == (
        "[::1]:6380",
        "redis.example",
        "cache-1",
        "cache-1 at [::1]:6380",
    )
    assert (
        address("fe80::1", 1) == "[fe80::1]:1"
        and v6.files == TlsClientFiles("")
        and v6.client_label == "none"
    )
    other = v6.with_files(TlsClientFiles("ca.crt", "app.crt", "app.key"))
    assert other.client_label == "app" and other.address == v6.address and v6.files.ca == ""


def _guide_pki(tmp_path: Path) -> tuple[str, str, TlsClientFiles]:
    """A CA the way common guides make it (no keyUsage), a server and a client certificate from it."""
    ca = guide_style_ca()
    server = pki.make_leaf(ca, "redis", purpose="server", hostnames=["localhost"])
    client = pki.make_leaf(ca, "app", purpose="client", hostnames=["app"])
    writes = [*server.planned_writes(tmp_path / "s.crt", tmp_path / "s.key")]
    writes += client.planned_writes(tmp_path / "c.crt", tmp_path / "c.key")
    writes.append(files.PlannedWrite(tmp_path / "ca.crt", ca.cert_pem(), files.PUBLIC))
    files.write_all(writes)
    return (
        str(tmp_path / "s.crt"),
        str(tmp_path / "s.key"),
        TlsClientFiles(str(tmp_path / "ca.crt"), str(tmp_path / "c.crt"), str(tmp_path / "c.key")),
    )


def test_strict_refuses_a_guide_ca_that_compatible_accepts_as_openssl_does(tmp_path: Path) -> None:
    cert, key, tls = _guide_pki(tmp_path)
    with pytest.raises(ssl.SSLCertVerificationError, match="key usage"):
        memory_handshake(cert, key, tls, "localhost")
    info = memory_handshake(cert, key, tls, "localhost", mode="compatible")
    assert info.protocol == "TLSv1.3" and info.client_subject
    with pytest.raises(ssl.SSLCertVerificationError, match="match"):
        memory_handshake(cert, key, tls, "other.example", mode="compatible")


def test_modes_set_the_flags_the_docstring_promises(tmp_path: Path) -> None:
    _, _, tls = _guide_pki(tmp_path)
    strict, compat, none = (tls_context(tls, mode=m) for m in ("strict", "compatible", "none"))
    assert strict.verify_flags & ssl.VERIFY_X509_STRICT and not compat.verify_flags & ssl.VERIFY_X509_STRICT
    assert strict.check_hostname and compat.check_hostname and not none.check_hostname
    assert none.verify_mode == ssl.CERT_NONE and not strict.hostname_checks_common_name
    assert compat.hostname_checks_common_name
    assert tls_context(tls, ignore_dates=True).verify_flags & 0x200000
    with pytest.raises(ValueError, match="unknown TLS mode"):
        tls_context(tls, mode="lax")  # type: ignore[arg-type]


def test_an_encrypted_key_without_passphrase_fails_at_once_instead_of_prompting(tmp_path: Path) -> None:
    ca = pki.make_ca()
    leaf = pki.make_leaf(ca, "app", purpose="client", hostnames=["app"])
    files.write_all(leaf.planned_writes(tmp_path / "c.crt", tmp_path / "c.key", passphrase=b"secret-pass"))
    (tmp_path / "ca.crt").write_bytes(ca.cert_pem())
    tls = TlsClientFiles(str(tmp_path / "ca.crt"), str(tmp_path / "c.crt"), str(tmp_path / "c.key"))
    with pytest.raises(ssl.SSLError):
        tls_context(tls)
    assert tls_context(tls, key_password=b"secret-pass").verify_mode == ssl.CERT_REQUIRED


def test_cipher_suites_expands_aliases_and_rejects_nonsense() -> None:
    names = {c["name"] for c in cipher_suites("ECDHE+AESGCM") or []}
    assert "ECDHE-ECDSA-AES128-GCM-SHA256" in names and not any("CBC" in n for n in names)
    assert cipher_suites("NO-SUCH-CIPHER") is None


def test_wire_encodes_commands_and_reads_every_reply_type(tmp_path: Path) -> None:
    assert wire.encode("SET", "k", 1, b"\x00") == b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\n$1\r\n\x00\r\n"
    a, b = socket.socketpair()
    with a, b:
        b.sendall(b"*3\r\n$4\r\ntls-\r\n$-1\r\n*2\r\n:7\r\n-ERR nope\r\n+OK\r\n")
        reader = wire.Reader(a)
        reply = reader.reply()
        assert reply[:2] == [b"tls-", None] and reply[2][0] == 7  # type: ignore[index]
        assert isinstance(reply[2][1], wire.ReplyError) and str(reply[2][1]) == "ERR nope"  # type: ignore[index]
        assert reader.reply() == b"OK"  # arrived with the first reply: kept, not lost
        b.sendall(b"\x16\x03\x01garbage\r\n")
        with pytest.raises(wire.ProtocolError):
            wire.read_reply(a)
        b.close()
        with pytest.raises(ConnectionResetError):
            wire.read_reply(a)
    assert wire.info_field("# Server\r\nredis_version:7.0.15\r\nrole:master\r\n", "role") == "master"
    assert wire.text([b"a", 1, None, wire.ReplyError("ERR x")]) == "a 1  ERR x"


@pytest.mark.integration
def test_wire_talks_to_a_real_tls_redis(tls_sandbox: sandbox.Sandbox) -> None:
    ep = tls_sandbox.endpoint()
    ctx = tls_context(ep.files)
    with (
        socket.create_connection((ep.host, ep.port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=ep.hostname) as tls,
    ):
        conn = wire.Reader(tls)
        assert conn.command("PING") == b"PONG"
        assert conn.command("GET", "runbook:test:missing") is None
        assert conn.command("CONFIG", "GET", "tls-auth-clients") == [b"tls-auth-clients", b"yes"]
        assert isinstance(conn.command("NO-SUCH-COMMAND"), wire.ReplyError)
        info = conn.command("INFO", "server")
        assert isinstance(info, bytes) and wire.info_field(info, "redis_version")
