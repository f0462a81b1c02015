"""Break-fix labs with real redis-server processes on loopback: every lab starts broken the way its
ticket says, its check fails, refuses a shortcut that weakens TLS, and passes after the reference
fix; six labs are fixed by hand the way a trainee would; progress and the report show it."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook import config, diagnose, drills, labs, pki, sandbox
from runbook.cli import build_parser, main
from runbook.client import redis_client
from runbook.labs import state
from runbook.labs.checking import SYMPTOMS

NAMES = labs.names()
WEAK = "refused, this weakens TLS"


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("labs")
    yield root
    for folder in state.labs_dir(root).glob("*/lab.json"):  # whatever a failed test left running
        state.stop_nodes(state.LabState.from_dict(json.loads(folder.read_text())))


def _app_diagnosis(st: state.LabState) -> diagnose.Diagnosis:
    s = state.read_client(st)
    return diagnose.diagnose_endpoint(
        s.endpoint, tls=s.tls,
        min_version=s.version("min"), max_version=s.version("max"), ciphers=s.ciphers or None,
        timeout=1.0, log_file=st.app.log_path, settle=0.5,
    )  # fmt: skip


def _symptom(st: state.LabState) -> str:
    s = state.read_client(st)
    f = s.endpoint.files
    client = {"tls": s.tls, "ca": f.ca or None, "cert": f.cert, "key": f.key, "ciphers": s.ciphers or None,
              "min_version": s.version("min"), "max_version": s.version("max")}  # fmt: skip
    if labs.get(st.name).strict_client:  # the application verifies as Python 3.13's default context does
        outcome = diagnose.attempt(diagnose.ClientSpec(s.endpoint, mode="strict"), 2.0)
        return diagnose.describe_error(outcome.error) if outcome.error else "PING -> PONG"
    if st.fleet:  # the application's node answers PING; its replication link is what the ticket says
        rc = redis_client("localhost", st.app.port, st.admin_files())
        try:
            return f"{rc.ping()} master_link_status:{rc.info('replication')['master_link_status']}"
        finally:
            rc.close()
    return drills.symptom_of(drills.Setup(s.endpoint, client))


def _edit_client(st: state.LabState, **changes: object) -> None:
    data = {**json.loads(st.client_path.read_text()), **changes}
    st.client_path.write_text(json.dumps(data))  # as a trainee would, with an editor


def _edit_conf(node_conf: Path, **directives: str) -> None:
    """Replace (or append) directives in a redis.conf, the way a trainee edits it."""
    lines = node_conf.read_text().splitlines()
    for name, value in directives.items():
        key = name.replace("_", "-")
        lines = [ln for ln in lines if not ln.startswith(key + " ")] + [f"{key} {value}"]
    node_conf.write_text("\n".join(lines) + "\n")


def _weaken(name: str, st: state.LabState) -> None:
    """The tempting shortcut for each lab, applied the way a trainee would."""
    cause = labs.get(name).cause
    conf = st.app.conf_path
    if cause in (
        "untrusted-ca",
        "hostname-mismatch",
        "cert-expired",
        "cert-not-yet-valid",
        "server-cert-wrong-usage",
        "ca-not-strict",
        "server-name-cn-only",
        "chain-not-strict",
        "missing-intermediate",
    ):
        _edit_client(st, verify=False)
        return
    if cause.startswith("client-cert"):
        _edit_conf(conf, tls_auth_clients="no")
    elif cause == "plaintext-to-tls-port":
        port = st.app.port
        _edit_conf(conf, port=str(port), tls_port="0")
    elif cause == "tls-to-plaintext-port":
        _edit_client(st, tls=False)
        return
    elif cause in ("protocol-mismatch", "no-shared-cipher"):
        _edit_conf(conf, tls_protocols='"TLSv1.1 TLSv1.2 TLSv1.3"', tls_ciphers="DEFAULT:@SECLEVEL=0")
    else:  # the server did not run or a link was down: the reference fix, then "optional" client certs
        labs.get(name).solve(st)
        st = state.load(Path(st.root).parents[1], name)
        for node in st.nodes:
            _edit_conf(node.conf_path, tls_auth_clients="optional")
    state.restart_nodes(st)


def test_catalogue_covers_every_cause_without_naming_it() -> None:
    causes = {lab.cause for lab in labs.LABS}
    assert len(labs.LABS) >= 12
    assert causes == set(diagnose.CAUSE_INFO) - {"ok", "unknown"}  # the foreign-PKI causes (issue 17) too
    assert any(lab.build.__name__ == "_replica_link_plaintext" for lab in labs.LABS)  # three nodes, one bad
    for lab in labs.LABS:
        shown = f"{lab.name} {lab.title} {lab.ticket}".lower()
        info = diagnose.CAUSE_INFO[lab.cause]
        assert lab.cause not in shown and info.summary.lower() not in shown and info.fix.lower() not in shown
        assert len(lab.hints) == 3 and all(lab.hints)
    assert set(SYMPTOMS) == causes


@pytest.mark.parametrize("name", NAMES)
def test_lab_breaks_refuses_shortcuts_and_passes_after_the_reference_fix(work: Path, name: str) -> None:
    lab = labs.get(name)
    started = labs.start(name, work, "alice")
    assert {"ticket", "host", "port", "conf", "pki_dir", "client"} <= set(started.to_dict())
    assert lab.cause not in json.dumps(started.to_dict())
    st = state.load(work, name)
    assert _app_diagnosis(st).cause == lab.cause  # really broken, the way the ticket says
    assert re.search(lab.symptom, _symptom(st)), _symptom(st)

    before = labs.check(work, "alice", name, settle=0.5)
    assert not before.ok
    text = json.dumps(before.to_dict())
    assert lab.cause not in text and diagnose.CAUSE_INFO[lab.cause].fix not in text  # no answer given

    _weaken(name, st)
    weakened = labs.check(work, "alice", name, settle=0.5)
    assert not weakened.ok
    if lab.cause not in ("protocol-mismatch",):  # OpenSSL may still refuse TLS 1.1 there: exit 1 either way
        assert any(c.detail.startswith(WEAK) for c in weakened.checks), weakened.checks

    labs.start(name, work, "alice")  # a fresh broken setup
    solved = labs.solve(work, "alice", name)
    assert solved.ok, solved.checks
    assert labs.reveal(work, "alice", name).cause == lab.cause
    labs.stop(work, name)


def _cli(*args: str) -> tuple[int, str]:
    """``runbook lab ARGS`` in this process (a subprocess proves once that servers outlive it)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(["lab", *args])
    return code, out.getvalue()


def _cli_process(*args: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "runbook", "lab", *args],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture
def cli_env(work: Path) -> Iterator[Path]:
    old = {k: os.environ.get(k) for k in ("RUNBOOK_WORK_DIR", "RUNBOOK_TRAINEE")}
    os.environ.update(RUNBOOK_WORK_DIR=str(work), RUNBOOK_TRAINEE="bob")
    yield work
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _hand_fix(name: str, st: state.LabState) -> None:
    paths = pki.PkiPaths(Path(st.pki_dir))
    if name == "reporting-renewal":  # the certificate names redis.internal: connect with that name
        _edit_client(st, server_name="redis.internal")
    elif name == "midnight-outage":  # re-issue with `runbook pki create --force`, point the config at it
        assert main(["pki", "create", "--dir", str(paths.root), "--force"]) == 0
        _edit_conf(st.app.conf_path, tls_cert_file=str(paths.server_cert), tls_key_file=str(paths.server_key))
        assert _cli("restart")[0] == 0
    elif name == "analytics-contractor":  # a client certificate from the server's CA
        assert main(["pki", "create", "--dir", str(paths.root), "--client", "analytics"]) == 0
        _edit_client(st, cert=str(paths.client_cert("analytics")), key=str(paths.client_key("analytics")))
    elif name == "cleanup-script":  # the key path fixed in redis.conf, then a restart
        _edit_conf(st.app.conf_path, tls_key_file=str(paths.server_key))
        assert _cli("restart")[0] == 0
    elif name == "legacy-java":
        _edit_client(st, min_version="TLSv1.2", max_version="")
    elif name == "inventory-service":
        _edit_client(st, cert=str(paths.client_cert()), key=str(paths.client_key()))
    elif name == "payments-upgrade":  # re-sign the guide CA with its own key; the new file to both sides
        tls = Path(st.root) / "tls"
        args = [
            "--ca",
            str(tls / "ca.crt"),
            "--ca-key",
            str(tls / "ca.key"),
            "--out",
            str(tls / "ca-new.crt"),
        ]
        assert main(["pki", "resign-ca", *args]) == 0
        _edit_client(st, ca=str(tls / "ca-new.crt"))
        _edit_conf(st.app.conf_path, tls_ca_cert_file=str(tls / "ca-new.crt"))
        assert _cli("restart")[0] == 0
    elif name == "renewal-by-hand":  # leaf + intermediate in the served file, as `step ca renew` writes it
        step = Path(st.root) / "step"
        chain = step / "served.crt"
        chain.write_bytes(
            (step / "redis.crt").read_bytes() + (step / "certs" / "intermediate_ca.crt").read_bytes()
        )
        _edit_conf(st.app.conf_path, tls_cert_file=str(chain))
        assert _cli("restart")[0] == 0


HAND = [
    "reporting-renewal",
    "midnight-outage",
    "analytics-contractor",
    "cleanup-script",
    "legacy-java",
    "inventory-service",
    "payments-upgrade",
    "renewal-by-hand",
]


def test_foreign_pki_labs_refuse_a_fix_that_works_for_the_application_alone(work: Path) -> None:
    """A new CA instead of the old one re-signed, or the intermediate added to one application's trust
    instead of served: the application connects, and the lab's own proof still refuses it."""
    labs.start("payments-upgrade", work, "dave")
    st = state.load(work, "payments-upgrade")
    fresh = Path(st.root) / "fresh"
    assert main(["pki", "create", "--dir", str(fresh)]) == 0  # a brand-new strict CA and pairs
    p = pki.PkiPaths(fresh)
    _edit_client(st, ca=str(p.ca_cert), cert=str(p.client_cert()), key=str(p.client_key()))
    _edit_conf(st.app.conf_path, tls_cert_file=str(p.server_cert), tls_key_file=str(p.server_key),
               tls_ca_cert_file=str(p.ca_cert))  # fmt: skip
    state.restart_nodes(st)
    replaced = {c.id: c for c in labs.check(work, "dave", "payments-upgrade", settle=0.5).checks}
    assert replaced["application:server"].status == "pass" and replaced["strict-client"].status == "pass"
    assert replaced["ca-kept"].status == "fail" and "another CA key" in replaced["ca-kept"].detail
    labs.stop(work, "payments-upgrade")

    labs.start("renewal-by-hand", work, "dave")
    st = state.load(work, "renewal-by-hand")
    step = Path(st.root) / "step"
    bundle = step / "app-bundle.crt"  # the application alone trusts root + intermediate
    bundle.write_bytes((step / "certs" / "root_ca.crt").read_bytes()
                       + (step / "certs" / "intermediate_ca.crt").read_bytes())  # fmt: skip
    _edit_client(st, ca=str(bundle))
    bundled = {c.id: c for c in labs.check(work, "dave", "renewal-by-hand", settle=0.5).checks}
    assert bundled["application:server"].status == "pass"
    assert (
        bundled["root-only-clients"].status == "fail"
        and "only the root" in bundled["root-only-clients"].detail
    )
    labs.stop(work, "renewal-by-hand")


@pytest.mark.parametrize("name", HAND)
def test_hand_made_fix_passes_the_check(cli_env: Path, name: str) -> None:
    code, out = _cli("start", name, "--json")
    assert code == 0, out
    assert labs.get(name).cause not in out
    st = state.load(cli_env, name)
    assert _cli("check")[0] == 1
    _cli("hint")
    _hand_fix(name, st)
    code, out = _cli("check", "--json")
    assert code == 0, out
    assert json.loads(out)["ok"] is True


def test_progress_and_report_show_it(cli_env: Path, tmp_path: Path) -> None:
    code, out = _cli("progress", "--json")
    rows = {r["lab"]: r for r in json.loads(out)}
    assert code == 0 and len(rows) == len(NAMES)
    for name in HAND:
        assert rows[name]["status"] == "solved" and rows[name]["hints"] == 1
        assert 0 < rows[name]["score"] <= 80 and rows[name]["attempts"] == 2
    plot = tmp_path / "minutes.png"
    code, out = _cli("report", "--json", "--plot", str(plot))
    doc = json.loads(out)
    assert code == 0 and plot.stat().st_size > 1000
    who = {t["trainee"]: t for t in doc["trainees"]}
    assert who["bob"]["solved"] == len(HAND) and who["alice"]["revealed"] == len(NAMES)
    assert who["alice"]["score"] == 0  # lab solve and reveal score nothing
    code, out = _cli("report")
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 100


def test_stop_stops_exactly_the_lab_and_keeps_what_is_outside(cli_env: Path) -> None:
    assert _cli_process("start", "stale-replica")[0] == 0  # the servers outlive the command
    st = state.load(cli_env, "stale-replica")
    pids = [n.pid for n in st.nodes]
    notes = cli_env / "my-notes.txt"
    notes.write_text("what I tried\n")
    stranger = subprocess.Popen(["sleep", "30"])  # a process that is not the lab's, given a lab node's record
    st.nodes[0] = state.Node(**{**st.nodes[0].__dict__, "pid": stranger.pid})
    assert not state.is_ours(st.nodes[0])
    try:
        code, out = _cli("stop", "--json")
        assert code == 0, out
        assert json.loads(out)["stopped"] == ["primary", "replica"]
        assert not any(sandbox.pid_alive(p) for p in pids[1:])  # stopped (a zombie counts as gone)
        assert notes.read_text() == "what I tried\n" and not Path(st.root).exists()
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()
    assert "no lab is running" in _cli("check")[1]


def test_every_lab_command_has_json_and_the_tables_fit() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["lab"]  # type: ignore[union-attr]
    commands = next(a for a in sub._actions if a.dest == "lab_command").choices  # type: ignore[union-attr]
    assert set(commands) == {
        "list",
        "start",
        "hint",
        "check",
        "restart",
        "solve",
        "reveal",
        "stop",
        "progress",
        "report",
    }
    for name, p in commands.items():
        assert any("--json" in a.option_strings for a in p._actions), name
    code, out = _cli("list")
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 100
    assert not any(cause in out for cause in diagnose.CAUSES if cause not in ("ok",))


def test_bad_client_settings_are_one_line_naming_the_fix(cli_env: Path) -> None:
    assert _cli("start", "legacy-java")[0] == 0
    st = state.load(cli_env, "legacy-java")
    st.client_path.write_text("{not json")
    code, out = _cli("check")
    assert code == 2 and out.count("\n") == 1 and "correct the file" in out
    _edit_client_raw = {"host": "localhost", "port": st.app.port, "max_version": "TLSv9"}
    st.client_path.write_text(json.dumps(_edit_client_raw))
    code, out = _cli("check")
    assert code == 2 and "max_version" in out
    assert _cli("stop")[0] == 0


def test_drill_list_keeps_the_answer_out_of_sight() -> None:
    plain = subprocess.run(
        [sys.executable, "-m", "runbook", "drill", "list"], capture_output=True, text=True, check=True
    )
    answers = subprocess.run(
        [sys.executable, "-m", "runbook", "drill", "list", "--answers"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "cert-expired" not in plain.stdout and "cert-expired" in answers.stdout
    assert max(len(line) for line in answers.stdout.splitlines()) <= 100


def test_config_quote_keeps_versions_together() -> None:  # the lab edits rely on it
    assert config.quote("TLSv1.2 TLSv1.3") == '"TLSv1.2 TLSv1.3"'


def test_training_notebook_outputs_hold_no_answer() -> None:
    import nbformat

    nb = nbformat.read(Path(__file__).parents[1] / "notebooks" / "08_training.ipynb", as_version=4)
    shown = json.dumps([c.get("outputs", []) for c in nb.cells if c.cell_type == "code"])
    assert "self-test: the reference fix was applied" in shown and "lab check #2" in shown
    for cause, info in diagnose.CAUSE_INFO.items():
        if cause not in ("ok", "unknown"):
            assert cause not in shown and info.fix not in shown and info.summary not in shown
    for lab in labs.LABS:
        assert not any(h in shown for h in lab.hints) and lab.debrief.happened not in shown


def test_training_steps_check_their_inputs_and_skip_external(tmp_path: Path) -> None:
    from runbook.book import training
    from runbook.errors import RunbookError

    with pytest.raises(RunbookError, match="no lab named 'nope'"):
        training.training(str(tmp_path), "nope", "self-test")
    with pytest.raises(RunbookError, match="mode 'exam' is unknown"):
        training.training(str(tmp_path), "legacy-java", "exam")
    t = training.training(str(tmp_path), "legacy-java", "train", "carol", target="external")
    assert "skip" in t.start().text() and t.fix().startswith("skip") and not state.labs_dir(tmp_path).exists()
    assert t.summary().verdict[0].status == "skip"
