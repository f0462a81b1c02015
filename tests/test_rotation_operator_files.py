"""Client and CA rotations, `rotate verify` and `fleet rotate` on the operator's own files (no --dir):
--ca --cert --key, --ca-key, --new-cert/--new-key, against corpus deployments served by real redis-server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import corpus
from runbook import cli, files, pki, rotation, sandbox

pytestmark = pytest.mark.integration


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The work dir: where operator-file rotations put their backups (``rotation/backups``)."""
    monkeypatch.setenv("RUNBOOK_WORK_DIR", str(tmp_path / "work"))
    return tmp_path / "work"


def _serve(recipe: str, tmp_path: Path) -> Iterator[tuple[corpus.Deployment, sandbox.Node]]:
    dep = corpus.build(recipe, tmp_path / recipe)
    node = corpus.start(dep, tmp_path / "node")
    yield dep, node
    sandbox.stop_node(node)


@pytest.fixture
def step(tmp_path: Path) -> Iterator[tuple[corpus.Deployment, sandbox.Node]]:
    yield from _serve("step", tmp_path)


@pytest.fixture
def helm(tmp_path: Path) -> Iterator[tuple[corpus.Deployment, sandbox.Node]]:
    yield from _serve("helm", tmp_path)


def _identity(dep: corpus.Deployment) -> list[str]:
    return ["--ca", str(dep.ca), "--cert", str(dep.client_cert), "--key", str(dep.client_key)]


def _target(dep: corpus.Deployment, node: sandbox.Node) -> list[str]:
    return ["--host", "127.0.0.1", "--port", str(node.port), "--server-name", dep.server_name]


def _served_serial(dep: corpus.Deployment, node: sandbox.Node) -> str:
    return rotation.serial_of(rotation.served_certificate("127.0.0.1", node.port, dep.files, dep.server_name))


def test_client_rotation_without_dir_reissues_the_operators_identity_under_the_intermediate(
    step: tuple[corpus.Deployment, sandbox.Node], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """step: --ca is the root, --ca-key the intermediate's key; the new client file holds leaf +
    intermediate, the server (trusting the root) accepts it, the old pair is backed up."""
    dep, node = step
    old = pki.load_certs(dep.client_cert)
    assert dep.ca_key is not None
    argv = [
        "rotate",
        "client",
        *_target(dep, node),
        *_identity(dep),
        "--ca-key",
        str(dep.ca_key),
        "--days",
        "1",
    ]
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert code == 0 and "rotated" in out, out + err
    new = pki.load_certs(dep.client_cert)
    assert new[0].serial_number != old[0].serial_number and new[0].subject == old[0].subject
    assert len(new) == 2 and new[1] == old[1], "the intermediate follows the leaf, as step writes it"
    assert pki.key_matches(new[0], pki.load_key(dep.client_key))
    backups = list((work / "rotation" / "backups").rglob(dep.client_cert.name))
    assert backups and pki.load_certs(backups[0])[0] == old[0]
    assert rotation.served_certificate("127.0.0.1", node.port, dep.files, dep.server_name)  # new pair works


def test_client_rotation_without_dir_installs_a_supplied_pair(
    helm: tuple[corpus.Deployment, sandbox.Node], work: Path, tmp_path: Path
) -> None:
    dep, node = helm
    assert dep.ca_key is not None
    ca = pki.Issued(pki.load_cert(dep.ca), pki.load_key(dep.ca_key))
    renewed = pki.make_leaf(ca, "helm-admin", purpose="client", hostnames=["helm-admin"], days=30)
    new_cert, new_key = tmp_path / "renewed.crt", tmp_path / "renewed.key"
    files.write_all(renewed.planned_writes(new_cert, new_key))
    report = rotation.rotate(
        "client", None, [("127.0.0.1", node.port)], server_hostname=dep.server_name,
        client_files=dep.files, new_cert=new_cert, new_key=new_key,
    )  # fmt: skip
    assert report.status == "rotated", report.to_dict()
    assert pki.load_cert(dep.client_cert) == renewed.cert
    assert (work / "rotation" / "backups").is_dir()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["rotate", "client"], "pass --ca-key"),
        (["rotate", "ca"], "pass --ca-key (the key of the CA in --ca)"),
        (
            ["rotate", "client", "--name", "redis-node", "--ca-key", "KEY"],
            "--name picks a client of the --dir",
        ),
        (["rotate", "verify"], "pass --new-cert"),
    ],
)
def test_what_cannot_work_without_dir_is_refused_naming_the_flag(
    argv: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dep = corpus.build("step", tmp_path / "step")
    assert dep.ca_key is not None
    argv = [str(dep.ca_key) if a == "KEY" else a for a in argv]
    assert cli.main([*argv, "--host", "127.0.0.1", "--port", "1", *_identity(dep)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
    assert "pki create" not in err[0]


def test_client_and_ca_rotations_without_any_identity_say_which_flags_to_give(work: Path) -> None:
    for kind in ("client", "ca"):
        assert rotation_refusal(kind) == (
            f"a {kind} rotation without --dir works on the identity you connect with: pass --cert and --key "
            "(with --ca), or --dir for the runbook's own layout"
        )


def rotation_refusal(kind: str) -> str:
    from runbook.errors import RunbookError

    try:
        rotation.rotate(kind, None, [("127.0.0.1", 1)])
    except RunbookError as exc:
        return str(exc)
    raise AssertionError("not refused")


def test_rotate_verify_without_dir_compares_with_new_cert(
    step: tuple[corpus.Deployment, sandbox.Node], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dep, node = step
    base = ["rotate", "verify", *_target(dep, node), *_identity(dep), "--json"]
    assert cli.main([*base, "--new-cert", str(dep.cert)]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert cli.main([*base, "--new-cert", str(dep.client_cert)]) == 1  # not what the server presents
    checks = {c["id"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert (
        checks["served-certificate"]["status"] == "fail"
        and "expected" in checks["served-certificate"]["detail"]
    )
    missing = tmp_path / "staged.crt"
    assert cli.main([*base, "--new-cert", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"--new-cert {missing} not found" in err


def test_ca_rotation_without_dir_moves_the_operators_ca_in_three_verified_phases(
    helm: tuple[corpus.Deployment, sandbox.Node], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """helm: one ca.crt (clients and tls-ca-cert-file), its key under any name; after bundle, reissue and
    retire the server serves a leaf of the new CA, --ca holds the new CA alone and --ca-key its key."""
    dep, node = helm
    assert dep.ca_key is not None
    old_ca, old_serial = pki.load_cert(dep.ca), _served_serial(dep, node)
    code = cli.main(
        ["rotate", "ca", *_target(dep, node), *_identity(dep), "--ca-key", str(dep.ca_key), "--json"]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["status"] == "rotated", report
    cas = pki.load_certs(dep.ca)
    assert len(cas) == 1 and cas[0] != old_ca
    assert pki.key_matches(cas[0], pki.load_key(dep.ca_key))
    assert pki.signed_by(pki.load_cert(dep.client_cert), cas[0])
    assert _served_serial(dep, node) != old_serial
    served = rotation.served_certificate("127.0.0.1", node.port, dep.files, dep.server_name)
    assert pki.signed_by(served, cas[0])
    ids = [s["id"] for s in report["steps"]]
    assert any(i.endswith("old-ca-refused") for i in ids) and any(i.endswith("new-ca-trusted") for i in ids)
    assert list((work / "rotation" / "backups").rglob(dep.ca_key.name)), "the old CA key is backed up"


def _inventory(path: Path, dep: corpus.Deployment, node: sandbox.Node, **extra: str) -> Path:
    lines = [
        "nodes:",
        f"  - name: {dep.recipe}",
        "    host: 127.0.0.1",
        f"    port: {node.port}",
        f"    server_name: {dep.server_name}",
        f"    ca: {dep.ca}",
        *(f"    {k}: {v}" for k, v in extra.items()),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fleet_rotate_takes_the_operators_files_and_ca_key(
    step: tuple[corpus.Deployment, sandbox.Node],
    work: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No pki_dir, no --dir: --cert/--key give the identity the inventory lacks, --ca-key (the
    intermediate's) signs; the node serves a new leaf + intermediate."""
    dep, node = step
    assert dep.ca_key is not None
    inv = _inventory(tmp_path / "fleet.yml", dep, node)
    old = _served_serial(dep, node)
    argv = [
        "fleet",
        "rotate",
        "--inventory",
        str(inv),
        *_identity(dep),
        "--ca-key",
        str(dep.ca_key),
        "--json",
    ]
    code = cli.main(argv)
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["nodes"][0]["status"] == "rotated", summary
    assert _served_serial(dep, node) != old
    assert len(pki.load_certs(dep.cert)) == 2
    assert any((work / "rotation" / "backups").iterdir())


def test_fleet_rotate_installs_a_supplied_pair(
    helm: tuple[corpus.Deployment, sandbox.Node],
    work: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dep, node = helm
    assert dep.ca_key is not None
    ca = pki.Issued(pki.load_cert(dep.ca), pki.load_key(dep.ca_key))
    renewed = rotation.reissue_like(pki.load_cert(dep.cert), ca, days=30)  # the same names, a new key
    new_cert, new_key = tmp_path / "new.crt", tmp_path / "new.key"
    files.write_all(renewed.planned_writes(new_cert, new_key))
    inv = _inventory(tmp_path / "fleet.yml", dep, node, cert=str(dep.client_cert), key=str(dep.client_key))
    argv = [
        "fleet",
        "rotate",
        "--inventory",
        str(inv),
        "--new-cert",
        str(new_cert),
        "--new-key",
        str(new_key),
    ]
    code = cli.main([*argv, "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["nodes"][0]["status"] == "rotated", json.dumps(summary["nodes"])
    assert _served_serial(dep, node) == rotation.serial_of(renewed.cert)


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ([], "no PKI folder and no operator files to rotate with: give --ca-key"),
        (["--new-cert", "CERT"], "pass --new-cert and --new-key together"),
        (["--ca-key", "MISSING"], "--ca-key MISSING not found"),
        (["--cert", "CERT"], "pass --cert and --key together"),
    ],
)
def test_fleet_rotate_refuses_incomplete_operator_files_in_one_line(
    extra: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dep = corpus.build("step", tmp_path / "step")
    inv = tmp_path / "fleet.yml"
    inv.write_text(f"nodes:\n  - {{name: n1, host: 127.0.0.1, port: 1, ca: {dep.ca}}}\n")
    subst = {"CERT": str(dep.cert), "MISSING": str(tmp_path / "nope.key")}
    argv = ["fleet", "rotate", "--inventory", str(inv), *(subst.get(x, x) for x in extra)]
    if "--cert" in extra:
        argv += ["--ca", str(dep.ca)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    says = says.replace("MISSING", str(tmp_path / "nope.key"))
    assert len(err) == 1 and says in err[0], err
    assert "pki create" not in err[0]


def test_a_missing_key_or_certificate_is_named_without_suggesting_pki_create(tmp_path: Path) -> None:
    """On a foreign CA `pki create` would make a new CA: the message names the file and the flag instead."""
    from runbook.errors import RunbookError

    for load, flag in ((pki.load_key, "--ca-key"), (pki.load_certs, "--ca")):
        with pytest.raises(RunbookError) as err:
            load(tmp_path / "absent.pem")
        text = str(err.value)
        assert str(tmp_path / "absent.pem") in text and flag in text and "pki create" not in text, text


@pytest.mark.parametrize("linked", ["--ca", "tls-ca-cert-file"])
def test_ca_rotation_refuses_a_symlinked_ca_file_and_writes_nothing(
    linked: str, tmp_path: Path, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CA file reached through a symlink (the clients' --ca, or the server's tls-ca-cert-file) is
    refused in one line naming the link, its target and what to pass instead: the link stays a link,
    its target, the CA key and the served files keep their bytes, the server its certificate."""
    dep = corpus.build("helm", tmp_path / "helm")
    assert dep.ca_key is not None
    real = dep.root / "shared" / "ca.crt"  # e.g. a CA file other services read too
    real.parent.mkdir()
    real.write_bytes(dep.ca.read_bytes())
    link = dep.root / "ca-link.crt"
    link.symlink_to(real)
    node = corpus.start(dep, tmp_path / "node", tls_ca_cert_file=str(link if linked != "--ca" else dep.ca))
    try:
        kept = [real, dep.ca, dep.ca_key, dep.cert, dep.key, dep.client_cert, dep.client_key]
        before, serial = [p.read_bytes() for p in kept], _served_serial(dep, node)
        ca = link if linked == "--ca" else dep.ca
        code = cli.main(
            ["rotate", "ca", *_target(dep, node), "--ca", str(ca), "--cert", str(dep.client_cert),
             "--key", str(dep.client_key), "--ca-key", str(dep.ca_key), "--json"]
        )  # fmt: skip
        report = json.loads(capsys.readouterr().out)
        assert code == 1 and report["status"] == "refused", report
        bad = [s for s in report["steps"] if s["id"].endswith(":symlink")]
        assert len(bad) == 1 and bad[0]["status"] == "fail", report["steps"]
        assert f"{link} is a symlink to {real}" in bad[0]["detail"] and "\n" not in bad[0]["detail"]
        assert str(real) in bad[0]["fix"] and ("--ca " in bad[0]["fix"]) == (linked == "--ca")
        assert link.is_symlink() and [p.read_bytes() for p in kept] == before
        assert _served_serial(dep, node) == serial
        assert not list(work.rglob("*.crt")), "nothing backed up: nothing was about to change"
    finally:
        sandbox.stop_node(node)
