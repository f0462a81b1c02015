"""Unit tests of runbook.rotation that need no server: re-issue, preflight, procedures, CLI usage."""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

import pytest

from runbook import cli, pki, rotation
from runbook.client import Endpoint, TlsClientFiles
from runbook.errors import RunbookError


@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    return pki.make_ca()


@pytest.fixture(scope="module")
def server(ca: pki.Issued) -> pki.Issued:
    return pki.make_leaf(ca, "localhost", purpose="server", hostnames=["localhost"], ips=["127.0.0.1"])


def test_reissue_like_keeps_names_and_usages_with_a_new_key(ca: pki.Issued, server: pki.Issued) -> None:
    new = rotation.reissue_like(server.cert, ca, days=30)
    assert new.cert.serial_number != server.cert.serial_number
    assert not pki.key_matches(new.cert, server.key) and pki.key_matches(new.cert, new.key)
    old_info, new_info = pki.cert_info(server.cert), pki.cert_info(new.cert)
    assert (new_info.subject, new_info.sans, new_info.eku) == (old_info.subject, old_info.sans, old_info.eku)
    assert 29 <= new_info.days_left <= 30
    pki.verify_server_cert(new.cert, [ca.cert], "localhost")  # strict X.509 still holds


def _preflight(ca: pki.Issued, cert: pki.Issued, key: pki.PrivateKey, old: pki.Issued) -> dict[str, str]:
    results = rotation.preflight_leaf(
        "",
        cert.cert,
        key,
        purpose="server",
        client_trust=[ca.cert],
        server_trust=[ca.cert],
        names=["127.0.0.1"],
        old=old.cert,
    )
    return {r.id: r.status for r in results}


def test_preflight_passes_a_good_certificate(ca: pki.Issued, server: pki.Issued) -> None:
    new = rotation.reissue_like(server.cert, ca)
    assert set(_preflight(ca, new, new.key, server).values()) == {"pass"}


def test_preflight_refuses_each_bad_input(ca: pki.Issued, server: pki.Issued) -> None:
    good = rotation.reissue_like(server.cert, ca)
    other_ca = pki.make_ca()
    foreign = rotation.reissue_like(server.cert, other_ca)
    no_san = pki.make_leaf(ca, "localhost", purpose="server", hostnames=["localhost"])
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    expired = pki.make_leaf(
        ca,
        "localhost",
        purpose="server",
        hostnames=["localhost"],
        ips=["127.0.0.1", "::1"],
        not_before=past,
        not_after=past + dt.timedelta(days=1),
    )
    client = pki.make_leaf(ca, "app", purpose="client", hostnames=["localhost"], ips=["127.0.0.1"])
    assert _preflight(ca, good, pki.generate_key("ecdsa-p256"), server)["key-match"] == "fail"
    assert _preflight(ca, foreign, foreign.key, server)["chain"] == "fail"
    assert _preflight(ca, no_san, no_san.key, server)["sans"] == "fail"
    assert _preflight(ca, expired, expired.key, server)["validity"] == "fail"
    assert _preflight(ca, client, client.key, server)["eku"] == "fail"


def test_preflight_of_a_link_certificate_needs_client_auth(ca: pki.Issued, server: pki.Issued) -> None:
    results = rotation.preflight_leaf(
        "",
        server.cert,
        server.key,
        purpose="server",
        client_trust=[ca.cert],
        server_trust=[ca.cert],
        names=["localhost"],
        needs_client_auth=True,
    )
    assert {r.id: r.status for r in results}["eku"] == "fail"


def test_sentinel_procedure_restarts_one_at_a_time(tmp_path: Path) -> None:
    node = rotation.NodeTarget(Endpoint("127.0.0.1", 26379, name="s1"), mode="sentinel")
    text = "\n".join(rotation.sentinel_procedure(node, pki.PkiPaths(tmp_path)))
    assert "restart" in text and "never restart a majority" in text and "SENTINEL CKQUORUM" in text


def test_deploy_commands_use_the_servers_own_paths_and_one_config_set(tmp_path: Path) -> None:
    node = rotation.NodeTarget(
        Endpoint("10.0.0.5", 6380, name="ext"),
        cert_file="/etc/redis/tls/server.crt",
        key_file="/etc/redis/tls/server.key",
    )
    cmds = rotation.deploy_commands(node, pki.PkiPaths(tmp_path))
    reload = [c for c in cmds if "CONFIG SET" in c]
    assert len(reload) == 1
    assert "tls-cert-file /etc/redis/tls/server.crt tls-key-file /etc/redis/tls/server.key" in reload[0]
    assert any("install -m 0600" in c and "/etc/redis/tls/server.key" in c for c in cmds)
    assert cmds[-1].startswith("python -m runbook rotate verify")


def test_report_evidence_has_the_shared_keys() -> None:
    report = rotation.RotationReport("server", "127.0.0.1:1", old_serial="AA", new_serial="BB")
    (entry,) = report.evidence()
    assert {"kind", "old_serial", "new_serial", "ok", "rolled_back"} <= set(entry)
    assert report.exit_code == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["rotate", "server", "--dir", "{d}", "--host", "127.0.0.1", "--port", "1", "--new-cert", "x.crt"],
        ["rotate", "banana", "--dir", "{d}", "--host", "127.0.0.1", "--port", "1"],
        ["rotate", "server", "--dir", "{d}", "--host", "127.0.0.1", "--port", "1", "--node", "nope"],
        ["rotate", "server", "--dir", "{d}/missing", "--host", "127.0.0.1", "--port", "1"],
    ],
)
def test_cli_usage_errors_exit_2(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pki.create_pki(tmp_path, pki.PkiSpec())
    code = cli.main([a.replace("{d}", str(tmp_path)) for a in argv]) if argv[1] != "banana" else None
    if code is None:
        with pytest.raises(SystemExit) as exc:
            cli.main([a.replace("{d}", str(tmp_path)) for a in argv])
        code = int(exc.value.code or 0)
    assert code == 2
    err = capsys.readouterr().err
    assert "error" in err.strip().splitlines()[-1]


def test_an_ipv6_node_is_named_and_reported_with_brackets(tmp_path: Path) -> None:
    """A node on ::1 reads ``[::1]:PORT`` in the report and in the one-line errors (was ``::1:PORT``)."""
    with socket.socket(socket.AF_INET6) as s:  # a free ::1 port that nothing listens on
        s.bind(("::1", 0))
        port = s.getsockname()[1]
    node = rotation.NodeTarget(Endpoint("::1", port))
    assert node.name == node.endpoint.address == f"[::1]:{port}"
    with pytest.raises(RunbookError) as served:
        rotation.served_certificate("::1", port, TlsClientFiles(""))
    assert str(served.value).startswith(f"TLS handshake with [::1]:{port} failed")
    with pytest.raises(RunbookError) as found:
        rotation.discover_node("::1", port, TlsClientFiles(""))
    assert str(found.value).startswith(f"cannot connect to [::1]:{port} over mutual TLS")
    assert any(
        f"-h ::1 -p {port} --tls" in line
        for line in rotation.sentinel_procedure(node, pki.PkiPaths(tmp_path))
    )


def test_names_are_matched_as_openssl_matches_them(ca: pki.Issued) -> None:
    """The CN counts only without a DNS subjectAltName and never for an IP; wildcards cover one label."""
    cn_only = pki.cn_only_leaf(ca, "Generic-cert").cert
    ip_only = pki.make_leaf(ca, "redis.internal", purpose="server", ips=["127.0.0.1"]).cert
    both = pki.make_leaf(ca, "other", purpose="server", hostnames=["*.example.com"], ips=["::1"]).cert
    assert pki.name_match(cn_only, "generic-cert") == "cn" and pki.name_match(cn_only, "other") == ""
    assert pki.name_match(ip_only, "redis.internal") == "cn"  # an IP SAN is no DNS SAN
    assert pki.name_match(ip_only, "127.0.0.1") == "san" and pki.name_match(cn_only, "127.0.0.1") == ""
    assert pki.name_match(both, "other") == ""  # DNS SANs present: the CN is never read
    assert pki.name_match(both, "a.example.com") == "san" and pki.name_match(both, "a.b.example.com") == ""
    assert pki.name_match(both, "0:0::1") == "san"
    assert pki.served_names(cn_only) == ["Generic-cert"] and pki.served_names(both) == [
        "*.example.com",
        "::1",
    ]


def test_preflight_names_pass_warn_or_fail_as_redis_compatible_clients_would(ca: pki.Issued) -> None:
    """A CN-only renewal of a CN-only certificate warns; a name moved from SAN to CN, or lost, fails."""
    cn_old, cn_new = pki.cn_only_leaf(ca, "Generic-cert"), pki.cn_only_leaf(ca, "Generic-cert")
    san = pki.make_leaf(ca, "Generic-cert", purpose="server", hostnames=["Generic-cert"])

    def sans(new: pki.Issued, old: pki.Issued | None, names: list[str]) -> tuple[str, str]:
        r = rotation.server_names_check("sans", new.cert, names, old.cert if old else None)
        return r.status, r.detail

    assert sans(cn_new, cn_old, ["Generic-cert"])[0] == "warn"
    assert sans(cn_new, None, ["Generic-cert"])[0] == "warn"
    assert sans(san, cn_old, ["Generic-cert"]) == ("pass", "covers Generic-cert")
    status, detail = sans(cn_new, san, ["Generic-cert"])
    assert status == "fail" and "where the served certificate has it in subjectAltName" in detail
    status, detail = sans(pki.cn_only_leaf(ca, "Other"), cn_old, ["Generic-cert"])
    assert status == "fail" and detail == "does not cover Generic-cert"
    status, detail = sans(san, None, ["127.0.0.1"])
    assert status == "fail" and detail.startswith("does not cover 127.0.0.1")
