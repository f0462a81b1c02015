"""runbook.client.probe: one connection that reports what happened and never raises, against real servers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509

from runbook import pki, sandbox, workdir
from runbook.client import Endpoint, TlsClientFiles, probe, tls_context, wire


def test_is_ip_and_one_line() -> None:
    assert probe.is_ip("127.0.0.1") and probe.is_ip("[::1]") and probe.is_ip("::1")
    assert not probe.is_ip("localhost") and not probe.is_ip("redis.example")
    err = OSError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed (_ssl.c:1006)")
    assert probe.one_line(err) == "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"
    assert probe.one_line(TimeoutError()) == "TimeoutError"


def test_wire_reader_waits_for_a_reply_that_arrives_in_pieces() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.settimeout(5)
        b.sendall(b"*2\r\n$4\r\nport\r\n$1")  # a CONFIG GET reply cut mid-bulk, the rest later
        rest = threading.Timer(0.2, b.sendall, [b"\r\n0\r\n"])
        rest.start()
        assert wire.Reader(a).reply() == [b"port", b"0"]
        rest.join()


@pytest.mark.integration
def test_probes_against_a_real_mutual_tls_server(tls_sandbox: sandbox.Sandbox, session_work: Path) -> None:
    ep = tls_sandbox.endpoint()
    version = ".".join(map(str, sandbox.redis_server_version()))
    got = probe.handshake(ep, tls_context(ep.files), send=wire.INLINE_PING)
    assert got.ok and got.protocol == "TLSv1.3" and got.reply == b"+PONG\r\n", got
    served = pki.inspect(workdir.pki_dir(session_work) / "redis-server.crt").serial
    assert format(x509.load_der_x509_certificate(got.chain[0]).serial_number, "X") == served
    assert got.session is not None
    assert probe.command(ep, "CONFIG", "GET", "tls-auth-clients").value == [b"tls-auth-clients", b"yes"]
    assert isinstance(probe.command(ep, "NO-SUCH-COMMAND").value, wire.ReplyError)
    assert probe.server_version(ep) == version and probe.answers_ping(ep)
    # refusals are values, never exceptions
    anon = ep.with_files(TlsClientFiles(ep.files.ca))
    assert not probe.answers_ping(anon) and not probe.command(anon, "PING").ok
    wrong = replace(ep, server_name="wrong.example")
    assert "certificate verify failed" in probe.handshake(wrong, tls_context(ep.files)).error
    assert probe.presented_chain(wrong).ok  # no verification: the chain is read anyway
    assert not probe.plaintext_ping(ep).ok and probe.plaintext_ping(ep).error.startswith("no RESP reply")
    closed = replace(ep, port=sandbox.free_port())
    assert probe.plaintext_ping(closed).error == "connection refused"
    assert not probe.handshake(closed, tls_context(ep.files)).ok and probe.server_version(closed) == ""


@pytest.mark.integration
def test_plaintext_ping_and_resumption(
    session_work: Path, tmp_path: Path, start_server: Callable[..., sandbox.Node]
) -> None:
    paths = pki.PkiPaths(workdir.pki_dir(session_work))
    plain = sandbox.free_port()
    node = start_server(paths, port=str(plain))
    ep = Endpoint("localhost", node.port, files=TlsClientFiles.from_pki(paths.root))
    got = probe.plaintext_ping(ep, port=plain)
    assert got.ok and got.reply == b"+PONG\r\n", got
    ctx = tls_context(ep.files)
    first = probe.handshake(ep, ctx, send=wire.INLINE_PING, read_chain=False)
    again = probe.handshake(ep, ctx, send=wire.INLINE_PING, session=first.session)
    assert first.ok and not first.reused and first.chain == () and again.reused, (first, again)
