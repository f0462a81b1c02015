"""Pipeline unit tests: parameters, target, validation before any run, evidence merge, CLI exit 2.

No kernel starts here: everything is refused (or planned) before the first notebook runs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline_runs import DATA, NOTEBOOKS
from runbook import cli, evidence, pipeline
from runbook.errors import RunbookError

PROBE = DATA / "probe"


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def _pem(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    return path


# --------------------------------------------------------------------------- plan / parameters


def test_plan_passes_common_and_per_notebook_parameters(tmp_path: Path) -> None:
    params = _yaml(
        tmp_path,
        "common:\n  label: shared\nnotebooks:\n  02_second:\n    label: own\n    fail: false\n  '03':\n    evidence: {a: 1}\n",
    )
    plan = pipeline.plan(params_file=params, notebooks=PROBE, work=tmp_path / "w")
    steps = {nb.stem: p for nb, p in plan.steps}
    assert steps["01_first"] == {"label": "shared", "target": "sandbox"}
    assert steps["02_second"] == {"label": "own", "fail": False, "target": "sandbox"}
    assert steps["03_third"] == {"label": "shared", "evidence": {"a": 1}, "target": "sandbox"}
    assert plan.work == (tmp_path / "w").resolve()


def test_notebooks_without_the_parameters_get_none(tmp_path: Path) -> None:
    import nbformat

    cell = nbformat.v4.new_code_cell("size: int = 1  # its own parameter", metadata={"tags": ["parameters"]})
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata.update(
        kernelspec={"name": "python3", "display_name": "Python 3", "language": "python"},
        language_info={"name": "python"},
    )
    (tmp_path / "nb").mkdir()
    nbformat.write(nb, tmp_path / "nb" / "01_plain.ipynb")
    plan = pipeline.plan(notebooks=tmp_path / "nb", work=tmp_path / "w")
    assert plan.steps[0][1] == {}, "the notebook declares no target parameter: nothing is injected"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("common: [unclosed\n", "not valid YAML"),
        ("- a\n- b\n", "must be a mapping"),
        ("labl: x\n", "no notebook has a parameter labl"),
        ("notebooks:\n  09_nothing:\n    label: x\n", "names no notebook 09_nothing"),
        ("notebooks:\n  01_first:\n    nope: 1\n", "01_first has no parameter nope"),
        ("notebooks:\n  01_first:\n    fail: maybe\n", "parameter fail must be bool"),
        ("notebooks:\n  01_first: 3\n", "must be a mapping of parameters"),
        ("redis_host: db.example\n", "only apply to --target external"),
        ("target: elsewhere\n", "unknown target 'elsewhere'"),
        (
            "notebooks:\n  01_first:\n    redis_port: 1\n",
            "sets redis_port: the target is one for the whole run",
        ),
        ("target: external\nredis_host: db\n", "--target external needs redis_port, ca_file"),
    ],
)
def test_plan_refuses_bad_input_before_running(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RunbookError, match=message):
        pipeline.plan(params_file=_yaml(tmp_path, text), notebooks=PROBE, work=tmp_path / "w")


def test_unknown_notebook_and_missing_params_file(tmp_path: Path) -> None:
    with pytest.raises(RunbookError, match="no notebook matches 07: choose from 01_first"):
        pipeline.plan(only=["07"], notebooks=PROBE, work=tmp_path / "w")
    with pytest.raises(RunbookError, match="not found"):
        pipeline.plan(params_file=tmp_path / "none.yaml", notebooks=PROBE, work=tmp_path / "w")


def test_external_target_from_yaml_resolves_paths_relative_to_it(tmp_path: Path) -> None:
    for name in ("ca.crt", "c.crt", "c.key"):
        _pem(tmp_path, name)
    params = _yaml(
        tmp_path,
        "target: external\nredis_host: 127.0.0.1\nredis_port: 6380\nserver_name: localhost\n"
        "ca_file: ca.crt\nclient_cert: c.crt\nclient_key: c.key\n",
    )
    plan = pipeline.plan(params_file=params, notebooks=PROBE, work=tmp_path / "w")
    assert plan.target.address == "127.0.0.1:6380"
    sent = plan.steps[0][1]
    assert sent["target"] == "external" and sent["redis_port"] == 6380 and sent["server_name"] == "localhost"
    assert sent["ca_file"] == str(tmp_path / "ca.crt") and sent["client_key"] == str(tmp_path / "c.key")


def test_external_target_checks(tmp_path: Path) -> None:
    ca = str(_pem(tmp_path, "ca.crt"))
    base = {"redis_host": "::1", "redis_port": 6380, "ca_file": ca}
    t = pipeline.resolve_target("external", {}, base)
    assert t.endpoint is not None and (t.address, t.endpoint.server_name, t.endpoint.files.cert) == (
        "[::1]:6380",
        "::1",
        None,
    )
    assert t.parameters()["client_cert"] == "" and t == pipeline.resolve_target("external", {}, base)
    with pytest.raises(RunbookError, match="not a TCP port"):
        pipeline.resolve_target("external", {}, {**base, "redis_port": 70000})
    with pytest.raises(RunbookError, match="go together"):
        pipeline.resolve_target("external", {}, {**base, "client_cert": ca})
    with pytest.raises(RunbookError, match="not found"):
        pipeline.resolve_target("external", {}, {**base, "ca_file": str(tmp_path / "missing.crt")})
    assert pipeline.resolve_target(None, {}, {}) == pipeline.RunTarget()
    assert pipeline.RunTarget().parameters() == {"target": "sandbox"}


def test_examples_are_valid_params_files(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[1] / "examples"
    plan = pipeline.plan(
        params_file=examples / "params-sandbox.yaml", notebooks=NOTEBOOKS, work=tmp_path / "w"
    )
    assert plan.target.kind == "sandbox"
    common, _ = pipeline.load_params(examples / "params-external.yaml")
    assert common["target"] == "external"
    assert {"redis_host", "redis_port", "server_name", "ca_file", "client_cert", "client_key"} <= set(common)


# --------------------------------------------------------------------------- failures


def test_failing_line_is_read_from_the_traceback() -> None:
    tb = [
        "\x1b[0;31m---------\x1b[0m",
        "Cell \x1b[0;32mIn[3], line 1\x1b[0m",
        "\x1b[0;32m----> 1\x1b[0m assert x == 3",
    ]
    assert pipeline.failing_line(tb) == "assert x == 3"
    assert pipeline.failing_line([]) == ""


def test_failure_line_names_notebook_cell_and_reason() -> None:
    s = pipeline.RunSummary("t", "w", "o")
    assert s.failure_line() == ""
    s.failure = {
        "notebook": "02_x",
        "cell": 4,
        "execution_count": 3,
        "ename": "AssertionError",
        "reason": "r",
    }
    assert s.failure_line() == "FAILED: 02_x, cell 4 (In [3]): AssertionError: r"


# --------------------------------------------------------------------------- evidence


def test_evidence_merge_rules() -> None:
    records = [
        (
            "01_a",
            {
                "certificates": [
                    {"path": "/w/pki/ca.crt", "subject": "CN=ca", "serial": "01", "not_after": "x"}
                ]
            },
        ),
        (
            "02_b",
            {
                "evidence": {
                    "redis_version": "7.0.15",
                    "target": "localhost:1",
                    "protocols_accepted": ["TLSv1.2", "TLSv1.3"],
                    "mutual_tls_enforced": True,
                    "plaintext_refused": True,
                    "certificates": [
                        {"file": "ca.crt", "subject": "CN=ca", "serial": "01", "not_after": "x"}
                    ],
                    "rotation": [{"kind": "server", "old_serial": "1", "new_serial": "2", "ok": True}],
                }
            },
        ),
        (
            "03_c",
            {
                "evidence": {
                    "redis_version": "7.2.0",
                    "protocols_accepted": ["TLSv1.3"],
                    "protocols_refused": ["TLSv1.1"],
                    "plaintext_refused": False,
                    "ciphers_accepted": ["TLS_AES_128_GCM_SHA256"],
                    "extra": 1,
                }
            },
        ),
        ("04_d", None),
    ]
    r = evidence.aggregate(records)
    ev = r.evidence
    assert ev["redis_version"] == "7.2.0"
    assert {"key": "redis_version", "values": {"02_b": "7.0.15", "03_c": "7.2.0"}} in r.conflicts
    assert ev["protocols_accepted"] == ["TLSv1.2", "TLSv1.3"]
    assert ev["plaintext_refused"] is False and ev["mutual_tls_enforced"] is True
    assert [c["file"] for c in ev["certificates"]] == ["ca.crt"], "same file and serial: listed once"
    assert ev["rotation"][0]["notebook"] == "02_b"
    assert ev["extra"] == 1
    assert r.sources["redis_version"] == ["02_b", "03_c"]
    assert r.missing == ["topology"]
    assert list(ev)[:3] == ["redis_version", "target", "protocols_accepted"]
    assert r.by_notebook["04_d"] == {}


def test_evidence_problems() -> None:
    assert evidence.problems({"redis_version": "7", "mutual_tls_enforced": True}) == []
    bad = {
        "redis_version": 7,
        "plaintext_refused": "yes",
        "protocols_accepted": "TLSv1.2",
        "certificates": [{"file": "a.crt"}],
        "rotation": [{"ok": True}],
        "x": "-----BEGIN PRIVATE KEY-----",
    }
    assert len(evidence.problems(bad)) == 6


# --------------------------------------------------------------------------- CLI usage errors (exit 2)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--only", "42"], "no notebook matches 42"),
        (["--params", "{bad}"], "not valid YAML"),
        (["--params", "{unknown}"], "no notebook has a parameter frobnicate"),
        (["--target", "external"], "--target external needs redis_host"),
        (["--host", "x"], "redis_host (--host) only apply to --target external"),
    ],
)
def test_cli_run_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    (tmp_path / "bad.yaml").write_text("a: [\n")
    (tmp_path / "unknown.yaml").write_text("frobnicate: 1\n")
    argv = [a.format(bad=tmp_path / "bad.yaml", unknown=tmp_path / "unknown.yaml") for a in argv]
    code = cli.main(["run", "--notebooks-dir", str(PROBE), "--work-dir", str(tmp_path / "w"), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "w" / "summaries").exists(), "nothing ran"


def test_cli_bad_target_choice_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "--target", "docker"])
    assert exc.value.code == 2


def test_docs_document_every_summary_field() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "summary-json.md").read_text()
    summary = pipeline.RunSummary("t", "w", "o", target=pipeline.RunTarget().parameters())
    fields = [
        *summary.to_dict(),
        *pipeline.NotebookRun("n", "passed", 0.0, "").__dict__,
        "kind",
        "endpoint",
        "server_name",
        "cell",
        "execution_count",
        "ename",
        "reason",
        "line",
        *evidence.KEYS,
    ]
    missing = [f for f in fields if f"| `{f}` |" not in doc]
    assert not missing, f"document these summary.json fields in docs/summary-json.md: {missing}"


def test_python_m_runbook_run_exits_2_on_an_unknown_notebook(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "runbook", "run", "--only", "99", "--work-dir", str(tmp_path / "w")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=NOTEBOOKS.parent,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: no notebook matches 99: choose from 01_")
