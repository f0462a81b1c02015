"""runbook.config: render -> parse round trip, parsing like Redis, and every lint rule both ways."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from runbook import config, pki, workdir
from runbook.errors import RunbookError
from runbook.results import Finding

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pki_copy(session_work: Path, tmp_path_factory: pytest.TempPathFactory) -> pki.PkiPaths:
    """A private copy of the session PKI plus the redis-node clientAuth certificate."""
    root = tmp_path_factory.mktemp("cfg") / "pki"
    shutil.copytree(workdir.pki_dir(session_work), root)
    config.ensure_node_client(root)
    return pki.PkiPaths(root)


def strict_lines(p: pki.PkiPaths, **overrides: str | None) -> dict[str, str]:
    """A clean strict configuration as directives; ``None`` removes one."""
    items = config.directives(config.settings_for_pki(p.root))
    for key, value in overrides.items():
        name = key.replace("_", "-")
        if value is None:
            items.pop(name, None)
        else:
            items[name] = value
    return items


def write(tmp_path: Path, items: dict[str, str] | str, name: str = "redis.conf", mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.write_text(items if isinstance(items, str) else config.conf_text(items))
    path.chmod(mode)
    return path


def about(findings: list[Finding], directive: str, severity: str = "error") -> list[Finding]:
    return [f for f in findings if f.subject == directive and f.severity == severity]


def lint_items(tmp_path: Path, items: dict[str, str], **kw: object) -> list[Finding]:
    return config.lint(write(tmp_path, items), **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- render


def test_strict_render_is_commented_and_complete(pki_copy: pki.PkiPaths) -> None:
    text = config.render(config.settings_for_pki(pki_copy.root))
    lines = text.splitlines()
    directives = [ln for ln in lines if ln and not ln.startswith("#")]
    for line in directives:
        index = lines.index(line)
        assert lines[index - 1].startswith("# "), f"no comment above {line!r}"
    names = [ln.split()[0] for ln in directives]
    assert names[:2] == ["port", "tls-port"]
    assert "port 0" in directives and "tls-auth-clients yes" in directives
    assert 'tls-protocols "TLSv1.2 TLSv1.3"' in directives
    assert "tls-prefer-server-ciphers yes" in directives and "tls-session-caching yes" in directives
    assert "tls-replication" not in names and "tls-client-cert-file" not in names
    assert set(names) <= set(config.TLS_DIRECTIVES)


def test_render_covers_every_tls_directive(tmp_path: Path) -> None:
    settings = config.TlsSettings(
        cert_file="/s.crt",
        key_file="/s.key",
        ca_cert_file="/ca.crt",
        key_file_pass="pw one",
        client_cert_file="/c.crt",
        client_key_file="/c.key",
        client_key_file_pass="pw2",
        dh_params_file="/dh.pem",
        ca_cert_dir="/cas",
        cluster=True,
        session_cache_size=20480,
        session_cache_timeout=300,
    )
    names = {ln.split()[0] for ln in config.render(settings).splitlines() if ln and not ln.startswith("#")}
    assert names == set(config.TLS_DIRECTIVES)


def test_render_only_what_applies() -> None:
    settings = config.TlsSettings(cert_file="/s.crt", key_file="/s.key", protocols="TLSv1.3")
    names = {ln.split()[0] for ln in config.render(settings).splitlines() if ln and not ln.startswith("#")}
    assert "tls-ciphers" not in names  # TLS 1.2 ciphers do not apply to a TLS 1.3-only server
    assert (
        "tls-ciphersuites" in names and "tls-key-file-pass" not in names and "tls-dh-params-file" not in names
    )


def test_render_parse_round_trip(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    settings = config.settings_for_pki(pki_copy.root, replication=True, tls_port=7000)
    settings.key_file_pass = 'with "quotes" and spaces'
    path = write(tmp_path, config.render(settings))
    parsed = config.parse(path)
    assert parsed.get("tls-port") == "7000" and parsed.get("port") == "0"
    assert parsed.get("tls-key-file-pass") == 'with "quotes" and spaces'
    assert parsed.get("tls-protocols") == "TLSv1.2 TLSv1.3"
    assert parsed.get("tls-client-cert-file") == str(pki_copy.client_cert(config.NODE_CLIENT))
    assert parsed.get("tls-replication") == "yes"
    assert parsed.as_directives() == config.directives(settings)


def test_migration_preset_is_loud_and_loopback_only(pki_copy: pki.PkiPaths) -> None:
    settings = config.settings_for_pki(pki_copy.root, "migration")
    text = config.render(settings)
    assert "TEMPORARY" in text
    parsed = config.parse_text(text)
    assert parsed.get("port") == "6379" and parsed.get("tls-port") == "6380"
    assert parsed.args["bind"] == ["127.0.0.1", "-::1"]
    findings = config.lint(parsed, migration=True)
    assert about(findings, "port", "warn") and not about(findings, "port")
    assert about(config.lint(parsed), "port"), "without --migration the open plaintext port is an error"


def test_links_get_a_client_auth_certificate(pki_copy: pki.PkiPaths) -> None:
    for kw in ({"replication": True}, {"cluster": True}):
        items = config.directives(config.settings_for_pki(pki_copy.root, **kw))  # type: ignore[arg-type]
        cert = pki.inspect(items["tls-client-cert-file"])
        assert "clientAuth" in cert.eku
        assert items["tls-replication"] == "yes"
    assert config.directives(config.settings_for_pki(pki_copy.root, cluster=True))["tls-cluster"] == "yes"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"preset": "lax"}, "unknown preset"),
        ({"auth_clients": "maybe"}, "tls-auth-clients"),
        ({"tls_port": 70000}, "out of range"),
        ({"plaintext_port": 6379, "tls_port": 6379}, "different"),
    ],
)
def test_settings_reject_bad_input(pki_copy: pki.PkiPaths, kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(RunbookError, match=needle):
        config.settings_for_pki(pki_copy.root, **kwargs)  # type: ignore[arg-type]


def test_ensure_node_client_keeps_the_rest(session_work: Path, tmp_path: Path) -> None:
    root = tmp_path / "pki"
    shutil.copytree(workdir.pki_dir(session_work), root)
    before = {p.name: p.read_bytes() for p in root.glob("*.*")}
    cert, key = config.ensure_node_client(root)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert {p.name: p.read_bytes() for p in root.glob("*.*")} == before
    assert pki.inspect(cert).eku == ["clientAuth"]
    assert config.ensure_node_client(root) == (cert, key)


def test_write_conf_private_when_it_holds_a_passphrase(tmp_path: Path) -> None:
    settings = config.TlsSettings(cert_file="/s.crt", key_file="/s.key", key_file_pass="secret")
    path = config.write_conf(tmp_path / "tls.conf", config.render(settings))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    plain = config.write_conf(tmp_path / "plain.conf", "port 0\n")
    assert stat.S_IMODE(plain.stat().st_mode) == 0o644


# --------------------------------------------------------------------------- parse


def test_split_args_like_redis() -> None:
    assert config.split_args('save ""') == ["save", ""]
    assert config.split_args('tls-protocols "TLSv1.2 TLSv1.3"') == ["tls-protocols", "TLSv1.2 TLSv1.3"]
    assert config.split_args("requirepass 'it\\'s'") == ["requirepass", "it's"]
    assert config.split_args('x "a\\"b\\x41\\n"') == ["x", 'a"bA\n']
    assert config.split_args("bind   127.0.0.1  -::1 ") == ["bind", "127.0.0.1", "-::1"]
    with pytest.raises(ValueError):
        config.split_args('x "open')
    with pytest.raises(ValueError):
        config.split_args('x "a"b')


def test_parse_last_wins_comments_case_and_includes(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "10-tls.conf").write_text("tls-port 6390\ntls-auth-clients optional\n")
    (tmp_path / "conf.d" / "20-more.conf").write_text("TLS-AUTH-CLIENTS no\n")
    (tmp_path / "late.conf").write_text("tls-port 6391\n")
    main = write(
        tmp_path,
        "# a comment\n   # indented comment\n\nport 6379\ntls-port 1\ninclude conf.d/*.conf\n"
        "port 0\ninclude late.conf\n",
    )
    parsed = config.parse(main)
    assert parsed.get("port") == "0"
    assert parsed.get("tls-port") == "6391"  # the include after wins
    assert parsed.get("tls-auth-clients") == "no"  # later include, upper-case name
    assert parsed.origin["tls-auth-clients"].endswith("20-more.conf:1")
    assert len(parsed.files) == 4 and not parsed.errors


def test_parse_include_problems_are_findings(tmp_path: Path) -> None:
    a = write(tmp_path, "include b.conf\ninclude missing.conf\n", "a.conf")
    write(tmp_path, "include a.conf\n", "b.conf")
    parsed = config.parse(a)
    messages = " ".join(f.message for f in parsed.errors)
    assert "include loop" in messages and "missing.conf" in messages
    assert all(f.subject == "include" for f in parsed.errors)
    with pytest.raises(RunbookError, match="not found"):
        config.parse(tmp_path / "nope.conf")


def test_parse_syntax_error_is_a_finding(tmp_path: Path) -> None:
    findings = config.lint(write(tmp_path, 'tls-protocols "TLSv1.2\n'))
    assert any(f.subject == "syntax" and f.severity == "error" for f in findings)


# --------------------------------------------------------------------------- lint: the clean baseline


def test_strict_config_lints_clean(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    for kw in ({}, {"replication": True}, {"cluster": True}):
        items = strict_lines(pki_copy)
        items.update(config.directives(config.settings_for_pki(pki_copy.root, **kw)))  # type: ignore[arg-type]
        if kw.get("cluster"):
            items["cluster-enabled"] = "yes"
        if kw.get("replication"):
            items["replicaof"] = "127.0.0.1 6379"
        findings = lint_items(tmp_path, items)
        assert findings == [], findings


def test_lint_accepts_a_directives_mapping(pki_copy: pki.PkiPaths) -> None:
    assert config.lint(strict_lines(pki_copy)) == []
    assert about(config.lint(strict_lines(pki_copy, port="6379")), "port")


# --------------------------------------------------------------------------- lint: each rule both ways


def test_rule_plaintext_port(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    assert about(lint_items(tmp_path, strict_lines(pki_copy, port="6379")), "port")
    implicit = about(lint_items(tmp_path, strict_lines(pki_copy, port=None)), "port")
    assert implicit and "defaults to 6379" in implicit[0].message
    assert not about(lint_items(tmp_path, strict_lines(pki_copy, port="0")), "port")


def test_rule_no_tls_port(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    assert about(lint_items(tmp_path, strict_lines(pki_copy, tls_port=None)), "tls-port")
    assert about(lint_items(tmp_path, strict_lines(pki_copy, tls_port="0")), "tls-port")
    assert not about(lint_items(tmp_path, strict_lines(pki_copy, tls_port="6390")), "tls-port")


@pytest.mark.parametrize("value", ["no", "optional"])
def test_rule_auth_clients(pki_copy: pki.PkiPaths, tmp_path: Path, value: str) -> None:
    assert about(lint_items(tmp_path, strict_lines(pki_copy, tls_auth_clients=value)), "tls-auth-clients")
    assert not about(lint_items(tmp_path, strict_lines(pki_copy, tls_auth_clients="yes")), "tls-auth-clients")
    assert not about(lint_items(tmp_path, strict_lines(pki_copy, tls_auth_clients=None)), "tls-auth-clients")


@pytest.mark.parametrize("protocols", ['"TLSv1 TLSv1.2"', '"TLSv1.1 TLSv1.2 TLSv1.3"', "TLSv1.1"])
def test_rule_old_protocols(pki_copy: pki.PkiPaths, tmp_path: Path, protocols: str) -> None:
    found = about(lint_items(tmp_path, strict_lines(pki_copy, tls_protocols=protocols)), "tls-protocols")
    assert found and "TLSv1" in found[0].message


def test_rule_protocols_pass_and_unknown(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    for ok in ('"TLSv1.2 TLSv1.3"', "TLSv1.3"):
        assert not about(lint_items(tmp_path, strict_lines(pki_copy, tls_protocols=ok)), "tls-protocols")
    assert about(lint_items(tmp_path, strict_lines(pki_copy, tls_protocols="SSLv3")), "tls-protocols")


@pytest.mark.parametrize(
    "ciphers",
    [
        "AES128-SHA",  # RSA key exchange, CBC
        "ECDHE-RSA-AES128-SHA",  # CBC
        "ECDHE-RSA-AES128-SHA256",  # CBC with SHA-2
        "AES128-GCM-SHA256",  # AEAD but no forward secrecy
        "DHE-RSA-AES128-GCM-SHA256",  # not ECDHE
        "RC4-SHA",
        "DES-CBC3-SHA",
        "NULL-SHA",
        "EXP-RC4-MD5",
        "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-NULL-SHA",
        "HIGH:!aNULL",  # an alias that expands to CBC and DHE ciphers
        "DEFAULT",
    ],
)
def test_rule_weak_ciphers(pki_copy: pki.PkiPaths, tmp_path: Path, ciphers: str) -> None:
    found = about(
        lint_items(tmp_path, strict_lines(pki_copy, tls_ciphers=config.quote(ciphers))), "tls-ciphers"
    )
    assert found and "tls-ciphers" in found[0].message


def test_rule_ciphers_pass(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    for good in (config.STRICT_CIPHERS, "ECDHE+AESGCM:ECDHE+CHACHA20"):
        findings = lint_items(tmp_path, strict_lines(pki_copy, tls_ciphers=config.quote(good)))
        assert not about(findings, "tls-ciphers") and not about(findings, "tls-ciphers", "warn")
    unset = lint_items(tmp_path, strict_lines(pki_copy, tls_ciphers=None))
    assert about(unset, "tls-ciphers", "warn"), "the OpenSSL default list includes CBC ciphers"
    tls13 = lint_items(tmp_path, strict_lines(pki_copy, tls_ciphers=None, tls_protocols="TLSv1.3"))
    assert not about(tls13, "tls-ciphers", "warn")


@pytest.mark.parametrize("directive", ["tls-cert-file", "tls-key-file", "tls-ca-cert-file"])
def test_rule_missing_files(pki_copy: pki.PkiPaths, tmp_path: Path, directive: str) -> None:
    items = strict_lines(pki_copy)
    items[directive] = str(tmp_path / "nowhere.pem")
    found = about(lint_items(tmp_path, items), directive)
    assert found and "not found" in found[0].message and directive in found[0].message
    items.pop(directive)
    missing = directive if directive != "tls-ca-cert-file" else "tls-ca-cert-file"
    assert about(lint_items(tmp_path, items), missing), f"{directive} absent must be an error"


def test_rule_optional_files_missing(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    for directive in ("tls-dh-params-file", "tls-ca-cert-dir", "tls-client-cert-file"):
        items = strict_lines(pki_copy)
        items[directive] = str(tmp_path / "nowhere")
        items.setdefault("tls-client-key-file", str(pki_copy.client_key(config.NODE_CLIENT)))
        assert about(lint_items(tmp_path, items), directive), directive
    items = strict_lines(pki_copy, tls_ca_cert_file=None, tls_ca_cert_dir=str(pki_copy.root))
    assert not about(lint_items(tmp_path, items), "tls-ca-cert-dir")


@pytest.mark.skipif(
    os.geteuid() == 0, reason="root reads every file: an unreadable file needs a non-root user"
)
def test_rule_unreadable_file(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    locked = tmp_path / "locked.crt"
    shutil.copy(pki_copy.server_cert, locked)
    locked.chmod(0)
    found = about(lint_items(tmp_path, strict_lines(pki_copy, tls_cert_file=str(locked))), "tls-cert-file")
    assert found and "not readable" in found[0].message


def test_rule_file_is_a_directory(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    found = about(lint_items(tmp_path, strict_lines(pki_copy, tls_key_file=str(tmp_path))), "tls-key-file")
    assert found and "directory" in found[0].message


def test_rule_not_pem(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    junk = tmp_path / "junk.crt"
    junk.write_text("not a certificate\n")
    assert about(lint_items(tmp_path, strict_lines(pki_copy, tls_cert_file=str(junk))), "tls-cert-file")
    assert about(lint_items(tmp_path, strict_lines(pki_copy, tls_ca_cert_file=str(junk))), "tls-ca-cert-file")


def test_rule_key_mismatch(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    wrong = strict_lines(pki_copy, tls_key_file=str(pki_copy.client_key()))
    found = about(lint_items(tmp_path, wrong), "tls-key-file")
    assert found and "does not match" in found[0].message
    assert not about(lint_items(tmp_path, strict_lines(pki_copy)), "tls-key-file")
    links = strict_lines(
        pki_copy,
        tls_client_cert_file=str(pki_copy.client_cert()),
        tls_client_key_file=str(pki_copy.client_key(config.NODE_CLIENT)),
    )
    assert about(lint_items(tmp_path, links), "tls-client-key-file")


def _issue(
    tmp_path: Path, p: pki.PkiPaths, name: str, not_after: dt.datetime, purpose: str = "server"
) -> Path:
    ca = pki.Issued(pki.load_cert(p.ca_cert), pki.load_key(p.ca_key))
    start = not_after - dt.timedelta(days=400)
    leaf = pki.make_leaf(
        ca, "localhost", purpose=purpose, hostnames=["localhost"], not_before=start, not_after=not_after
    )  # type: ignore[arg-type]
    crt, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    crt.write_bytes(leaf.cert_pem())
    key.write_bytes(leaf.key_pem())
    key.chmod(0o600)
    return crt


def test_rule_expired_and_expiring(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    expired = _issue(tmp_path, pki_copy, "expired", now - dt.timedelta(days=1))
    items = strict_lines(pki_copy, tls_cert_file=str(expired), tls_key_file=str(expired.with_suffix(".key")))
    found = about(lint_items(tmp_path, items), "tls-cert-file")
    assert found and "expired" in found[0].message
    soon = _issue(tmp_path, pki_copy, "soon", now + dt.timedelta(days=10))
    items = strict_lines(pki_copy, tls_cert_file=str(soon), tls_key_file=str(soon.with_suffix(".key")))
    warned = about(lint_items(tmp_path, items, warn_days=30), "tls-cert-file", "warn")
    assert warned and "expires in" in warned[0].message
    assert not about(lint_items(tmp_path, items, warn_days=5), "tls-cert-file", "warn")
    assert not about(lint_items(tmp_path, strict_lines(pki_copy)), "tls-cert-file", "warn")


def test_rule_key_permissions(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    loose = tmp_path / "loose.key"
    shutil.copy(pki_copy.server_key, loose)
    loose.chmod(0o644)
    found = about(lint_items(tmp_path, strict_lines(pki_copy, tls_key_file=str(loose))), "tls-key-file")
    assert found and "0644" in found[0].message
    loose.chmod(0o600)
    assert not about(lint_items(tmp_path, strict_lines(pki_copy, tls_key_file=str(loose))), "tls-key-file")


def test_rule_replication_without_tls(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    node = {
        "tls_client_cert_file": str(pki_copy.client_cert(config.NODE_CLIENT)),
        "tls_client_key_file": str(pki_copy.client_key(config.NODE_CLIENT)),
    }
    for directive in ("replicaof", "slaveof"):
        items = strict_lines(pki_copy, **node)
        items[directive] = "10.0.0.1 6379"
        assert about(lint_items(tmp_path, items), "tls-replication"), directive
        items["tls-replication"] = "yes"
        assert not about(lint_items(tmp_path, items), "tls-replication")


def test_rule_cluster_without_tls_cluster(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    node = {
        "tls_client_cert_file": str(pki_copy.client_cert(config.NODE_CLIENT)),
        "tls_client_key_file": str(pki_copy.client_key(config.NODE_CLIENT)),
        "cluster_enabled": "yes",
    }
    assert about(lint_items(tmp_path, strict_lines(pki_copy, **node)), "tls-cluster")
    fixed = lint_items(tmp_path, strict_lines(pki_copy, tls_cluster="yes", tls_replication="yes", **node))
    assert not about(fixed, "tls-cluster") and not about(fixed, "tls-replication")


def test_rule_ca_missing_with_client_auth(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    assert about(lint_items(tmp_path, strict_lines(pki_copy, tls_ca_cert_file=None)), "tls-ca-cert-file")
    no_auth = lint_items(tmp_path, strict_lines(pki_copy, tls_ca_cert_file=None, tls_auth_clients="no"))
    assert not about(no_auth, "tls-ca-cert-file")
    assert not about(lint_items(tmp_path, strict_lines(pki_copy)), "tls-ca-cert-file")


def test_rule_passphrase_in_readable_config(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    items = strict_lines(pki_copy, tls_key_file_pass='"not really used"')
    readable = config.lint(write(tmp_path, items, "open.conf", 0o644))
    found = about(readable, "tls-key-file-pass")
    assert found and "readable by others" in found[0].message
    private = config.lint(write(tmp_path, items, "private.conf", 0o600))
    assert not [f for f in private if f.subject == "tls-key-file-pass" and "readable" in f.message]
    group = config.lint(write(tmp_path, items, "group.conf", 0o640))
    assert about(group, "tls-key-file-pass", "warn")


def test_rule_encrypted_key_needs_its_passphrase(tmp_path: Path) -> None:
    root = tmp_path / "pki"
    pki.create_pki(root, pki.PkiSpec(server_key_passphrase=b"s3cret"))
    p = pki.PkiPaths(root)
    items = config.directives(config.settings_for_pki(root))
    assert about(config.lint(items), "tls-key-file-pass")
    items["tls-key-file-pass"] = "wrong"
    assert about(config.lint(items), "tls-key-file-pass")
    items["tls-key-file-pass"] = "s3cret"
    conf = write(tmp_path, items)
    assert not about(config.lint(conf), "tls-key-file-pass") and p.server_key.exists()


def test_rule_outgoing_cert_lacks_client_auth(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    # The trap: replication with tls-auth-clients yes, but the server certificate (serverAuth only)
    # is what the replica presents.
    items = strict_lines(pki_copy, tls_replication="yes", replicaof="127.0.0.1 6390")
    found = about(lint_items(tmp_path, items), "tls-cert-file")
    assert found and "clientAuth" in found[0].message
    cluster = strict_lines(pki_copy, tls_replication="yes", tls_cluster="yes", cluster_enabled="yes")
    assert about(lint_items(tmp_path, cluster), "tls-cert-file")
    server_as_client = strict_lines(
        pki_copy,
        tls_replication="yes",
        tls_client_cert_file=str(pki_copy.server_cert),
        tls_client_key_file=str(pki_copy.server_key),
    )
    assert about(lint_items(tmp_path, server_as_client), "tls-client-cert-file")
    fixed = strict_lines(
        pki_copy,
        tls_replication="yes",
        replicaof="127.0.0.1 6390",
        tls_client_cert_file=str(pki_copy.client_cert(config.NODE_CLIENT)),
        tls_client_key_file=str(pki_copy.client_key(config.NODE_CLIENT)),
    )
    findings = lint_items(tmp_path, fixed)
    assert not about(findings, "tls-cert-file") and not about(findings, "tls-client-cert-file")
    no_auth = lint_items(tmp_path, {**items, "tls-auth-clients": "no"})
    assert not about(no_auth, "tls-cert-file"), "without client auth the usage does not matter"


def test_rule_unknown_directive_and_bad_values(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    items = strict_lines(pki_copy)
    items["tls-protocol"] = "TLSv1.2"
    found = about(lint_items(tmp_path, items), "tls-protocol")
    assert found and "tls-protocols" in found[0].fix
    assert about(lint_items(tmp_path, strict_lines(pki_copy, tls_replication="maybe")), "tls-replication")
    assert not about(lint_items(tmp_path, strict_lines(pki_copy)), "tls-protocol")


def test_issuer_mismatch_warns(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    other = pki.make_ca()
    ca_file = tmp_path / "other-ca.crt"
    ca_file.write_bytes(other.cert_pem())
    found = about(
        lint_items(tmp_path, strict_lines(pki_copy, tls_ca_cert_file=str(ca_file))), "tls-cert-file", "warn"
    )
    assert found and "not issued" in found[0].message


def test_every_finding_names_its_directive(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    broken = (
        "tls-port 6380\ntls-cert-file /nope.crt\ntls-key-file " + str(pki_copy.client_key()) + "\n"
        'tls-auth-clients optional\ntls-protocols "TLSv1 TLSv1.2"\ntls-ciphers ALL\n'
        "replicaof 10.0.0.1 6379\ncluster-enabled yes\ntls-session-caching perhaps\n"
    )
    findings = config.lint(write(tmp_path, broken))
    assert len(config.errors(findings)) >= 7
    for f in findings:
        assert f.subject in f.message, f


def test_a_guide_style_config_is_caught(tmp_path: Path) -> None:
    # A config written the way many guides show it: every line looks plausible.
    text = (
        "port 6379\ntls-port 6380\ntls-cert-file /etc/redis/redis.crt\ntls-key-file /etc/redis/redis.key\n"
        "tls-ca-cert-file /etc/redis/ca.crt\ntls-auth-clients optional\ntls-replication yes\n"
    )
    subjects = {f.subject for f in config.errors(config.lint(write(tmp_path, text)))}
    assert {"port", "tls-auth-clients", "tls-cert-file", "tls-key-file", "tls-ca-cert-file"} <= subjects


def test_deploy_instructions_name_the_reload_and_the_check() -> None:
    text = config.deploy_instructions("$WORK/config/redis-tls.conf", "redis.example.com", 6379, 6380)
    assert "CONFIG SET tls-cert-file" in text and "DEBUG RELOAD" not in text
    assert "config lint $WORK/config/redis-tls.conf" in text
    assert "-p 6380 --tls" in text and "-p 6379 PING   # must fail" in text


def test_config_set_args_unquote() -> None:
    args = config.config_set_args({"tls-protocols": '"TLSv1.2 TLSv1.3"', "tls-port": "6380"})
    assert args == ["tls-protocols", "TLSv1.2 TLSv1.3", "tls-port", "6380"]


def test_rule_ca_file_without_a_ca(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    found = about(
        lint_items(tmp_path, strict_lines(pki_copy, tls_ca_cert_file=str(pki_copy.server_cert))),
        "tls-ca-cert-file",
    )
    assert found and "no CA certificate" in found[0].message
    assert not about(lint_items(tmp_path, strict_lines(pki_copy)), "tls-ca-cert-file")


def test_rule_server_cert_lacks_server_auth(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    client_as_server = strict_lines(
        pki_copy, tls_cert_file=str(pki_copy.client_cert()), tls_key_file=str(pki_copy.client_key())
    )
    found = about(lint_items(tmp_path, client_as_server), "tls-cert-file")
    assert found and "serverAuth" in found[0].message
    assert not about(lint_items(tmp_path, strict_lines(pki_copy)), "tls-cert-file")


def test_rule_issuer_mismatch_is_an_error_with_links(pki_copy: pki.PkiPaths, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.crt"
    other.write_bytes(pki.make_ca().cert_pem())
    items = strict_lines(
        pki_copy,
        tls_ca_cert_file=str(other),
        tls_replication="yes",
        tls_client_cert_file=str(pki_copy.client_cert(config.NODE_CLIENT)),
        tls_client_key_file=str(pki_copy.client_key(config.NODE_CLIENT)),
    )
    findings = lint_items(tmp_path, items)
    assert about(findings, "tls-cert-file") and about(findings, "tls-client-cert-file")


def test_rule_weak_key_and_signature(tmp_path: Path) -> None:
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    name = cx509.Name([cx509.NameAttribute(cx509.NameOID.COMMON_NAME, "weak")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        cx509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=100))
        .sign(key, hashes.SHA256())
    )
    crt, kf = tmp_path / "weak.crt", tmp_path / "weak.key"
    crt.write_bytes(pki.Issued(cert, key).cert_pem())
    kf.write_bytes(pki.Issued(cert, key).key_pem())
    kf.chmod(0o600)
    items = {"port": "0", "tls-port": "6390", "tls-cert-file": str(crt), "tls-key-file": str(kf)}
    items["tls-ca-cert-file"] = str(crt)
    found = about(config.lint(items), "tls-cert-file")
    assert found and "1024 bits" in found[0].message
    openssl = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-sha1",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=sha1",
            "-keyout",
            str(kf),
            "-out",
            str(crt),
        ],
        capture_output=True,
        check=False,
    )
    assert openssl.returncode == 0, openssl.stderr
    found = about(config.lint(items), "tls-cert-file")
    assert found and "sha1" in found[0].message
    strong = tmp_path / "pki"
    pki.create_pki(strong, pki.PkiSpec(key_type="rsa-2048"))
    assert not [
        f for f in config.lint(config.directives(config.settings_for_pki(strong))) if "bits" in f.message
    ]
