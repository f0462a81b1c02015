"""Regression harness for every committed ``notebooks/NN_*.ipynb`` (generic: new notebooks join).

Static checks (fast): a tagged ``parameters`` cell whose first parameter is ``work_dir``, every
parameter documented with type and help as ``papermill --help-notebook`` prints it, no unexecuted
code cells (one top-to-bottom run), no key material in outputs, the summary record named after
the notebook, and strict nbval (not lax) with the one sanitize file in ``make test``.

Runs (integration, real redis-server): all notebooks in sequence in one fresh work dir through
``pipeline.run``, once per session (outputs equal the committed ones, records ok with well-formed
evidence). nbval (`make test`) runs each notebook alone in a fresh work dir against the same committed
outputs, so alone == committed == in sequence, and every notebook is executed twice in all.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from papermill.cli import papermill as papermill_cli

from pipeline_runs import DATA, NOTEBOOKS, ROOT, cell_outputs, committed_notebooks, full_run
from runbook import evidence, hygiene, pipeline

NBS = committed_notebooks()
IDS = [p.stem for p in NBS]


def test_there_are_notebooks() -> None:
    assert NBS, "no notebooks/NN_*.ipynb found"
    assert NBS[0].stem.startswith("01_")


# --------------------------------------------------------------------------- static checks


def check_parameters_cell(nb_path: Path) -> None:
    nb = nbformat.read(nb_path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{nb_path.name}: tag exactly one code cell `parameters` (found {len(tagged)})"
    assert tagged[0].cell_type == "code"
    first = tagged[0].source.strip().splitlines()[0]
    assert re.match(r'^work_dir: str = ""\s+#', first), f"{nb_path.name}: first parameter must be work_dir"


def check_help_notebook(nb_path: Path) -> None:
    declared = pipeline.declared_parameters(nb_path)
    result = CliRunner().invoke(papermill_cli, ["--help-notebook", str(nb_path)])  # the real CLI, in-process
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    for name, info in declared.items():
        kind = info["inferred_type_name"]
        assert kind not in ("None", ""), f"{nb_path.name}: give {name} a type hint"
        assert info["help"].strip(), f"{nb_path.name}: give {name} a trailing # help comment"
        assert f"{name}: {kind} (default" in flat, f"{nb_path.name}: --help-notebook lacks {name}: {kind}"
        assert " ".join(info["help"].split()) in flat, f"{nb_path.name}: --help-notebook lacks {name}'s help"


def check_fully_executed(nb_path: Path) -> None:
    nb = nbformat.read(nb_path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.execution_count for c in code]
    assert None not in counts, f"{nb_path.name} has unexecuted code cells: run `make notebooks` and commit"
    assert counts == list(range(1, len(code) + 1)), (
        f"{nb_path.name} was not saved from one fresh top-to-bottom run ({counts}): run `make notebooks`"
    )
    assert not any(o.output_type == "error" for c in code for o in c.outputs), f"{nb_path.name} has errors"


def check_no_key_material(nb_path: Path) -> None:
    leaks = hygiene.scan_text(nb_path.read_text(), nb_path.name, passphrases=hygiene.env_passphrases())
    assert not leaks, [leak.one_line() for leak in leaks]


def check_record_name(nb_path: Path) -> None:
    source = "\n".join(c.source for c in nbformat.read(nb_path, as_version=4).cells)
    assert re.search(rf"write_summary\(\s*WORK,\s*[\"']{nb_path.stem}[\"']", source), (
        f"{nb_path.name}: write its record with workdir.write_summary(WORK, {nb_path.stem!r}, record)"
    )


CHECKS = [
    check_parameters_cell,
    check_help_notebook,
    check_fully_executed,
    check_no_key_material,
    check_record_name,
]


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
@pytest.mark.parametrize("nb_path", NBS, ids=IDS)
def test_committed_notebook(nb_path: Path, check: Callable[[Path], None]) -> None:
    check(nb_path)


def test_checks_reject_a_bad_notebook(tmp_path: Path) -> None:
    """The checks can fail: a notebook breaking each convention is rejected by each check."""
    bad = DATA / "bad" / "01_bad.ipynb"
    leaky = tmp_path / "01_leaky.ipynb"
    nb = nbformat.read(bad, as_version=4)
    nb.cells[-1].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="-----BEGIN PRIVATE KEY-----\n")
    ]
    nbformat.write(nb, leaky)
    for check, path in [
        (check_parameters_cell, bad),  # work_dir is not the first parameter
        (check_help_notebook, bad),  # retries has no type hint and no help
        (check_fully_executed, bad),  # the code cell was never executed
        (check_no_key_material, leaky),
        (check_record_name, bad),
    ]:
        with pytest.raises(AssertionError):
            check(path)


def test_make_test_runs_strict_nbval_with_one_sanitize_file() -> None:
    make = (ROOT / "Makefile").read_text()
    assert re.search(r"^test:.*\n(\t.*\n)*\t.*scripts/test\.sh", make, re.M), "make test runs scripts/test.sh"
    script = (ROOT / "scripts" / "test.sh").read_text()
    assert "--nbval-lax" not in make + script
    runs = re.findall(
        r"pytest notebooks [^\n]*--nbval \\?\s*--nbval-sanitize-with notebooks/sanitize.cfg", script
    )
    assert len(runs) == 1, "one nbval run per `make test` (docker or binary backend)"
    assert re.search(r"^notebooks:.*\n\t.*runbook notebooks --refresh", make, re.M), (
        "make notebooks regenerates"
    )


# --------------------------------------------------------------------------- runs


@pytest.mark.integration
def test_all_notebooks_in_sequence() -> None:
    summary = full_run()
    assert summary.ok, summary.failure_line()
    assert [n.name for n in summary.notebooks] == IDS
    for run in summary.notebooks:
        assert run.status == "passed"
        record = run.record
        assert record is not None, f"{run.name} wrote no summary record"
        assert record["notebook"] == run.name and record["ok"] is True
        assert isinstance(record["verdict"], list) and record["verdict"]
        assert not evidence.problems(evidence.record_evidence(record)), run.name
    out = Path(summary.output_dir)
    assert (out / "summary.json").is_file() and (out / "report.html").is_file()


@pytest.mark.integration
@pytest.mark.parametrize("nb_path", NBS, ids=IDS)
def test_sequence_outputs_equal_committed_outputs(nb_path: Path) -> None:
    """What nbval checks in `make test`, here too: a fresh default run reproduces the commit."""
    run = next(n for n in full_run().notebooks if n.name == nb_path.stem)
    assert cell_outputs(Path(run.output)) == cell_outputs(nb_path), (
        f"{nb_path.name}: outputs differ from a fresh default run: run `make notebooks` and commit"
    )


def test_nbval_runs_each_notebook_alone_in_a_fresh_work_dir() -> None:
    """The other leg of "alone == in sequence": nbval (`make test`) gives every notebook its own empty
    work dir, and compares its outputs with the committed ones, which the sequence run above equals.
    Together: each notebook's prerequisites are idempotent, with two executions per notebook."""
    spec = importlib.util.spec_from_file_location("nbval_conftest", NOTEBOOKS / "conftest.py")
    assert spec and spec.loader
    nbval_conftest = importlib.util.module_from_spec(spec)
    before = os.environ.get("RUNBOOK_WORK_DIR")
    spec.loader.exec_module(nbval_conftest)  # sets RUNBOOK_WORK_DIR, as it does for nbval
    shutil.rmtree(nbval_conftest.ROOT)
    if before is None:
        del os.environ["RUNBOOK_WORK_DIR"]
    else:
        os.environ["RUNBOOK_WORK_DIR"] = before
    dirs = [nbval_conftest.work_dir_for(p) for p in NBS]
    assert len(set(dirs)) == len(NBS), "one work dir per notebook"
    assert not any(d.exists() for d in dirs), "each starts empty"
    assert all(d.name == p.stem for d, p in zip(dirs, NBS, strict=True))


@pytest.mark.integration
def test_full_run_output_holds_no_secrets() -> None:
    """The secret scan over the shared full run (here, beside the other users of that run: one worker runs it)."""
    summary = full_run()
    out = Path(summary.output_dir)
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"summary.json", "report.html", "logs/run.log"} <= written
    assert {f"{n.name}.ipynb" for n in summary.notebooks} <= written
    key_files = sorted((Path(summary.work_dir) / "pki").rglob("*.key"))
    assert key_files, "the run made keys: the scan must look for their bodies"
    count, leaks = hygiene.scan_dir(out, key_files=key_files)
    assert count == len(written)
    assert not leaks, [leak.one_line() for leak in leaks]
    assert summary.secret_scan["ok"] is True
