"""The JupyterLab experience, tested in a real browser (headless Debian chromium via playwright).

For each notebook: a real ``jupyter lab`` (the settings of ``make lab``, isolated state dirs, a
fresh work dir) serves a copy of it; chromium opens it with no dialog or news toast, clears the
committed outputs, runs Run > Run All Cells, and checks what an operator sees: the ipywidgets form
with the notebook's parameters, a verdict table where every step passed, and a form edit reaching
the kernel's variable. Screenshots go to build/test-artifacts/. Playwright never downloads a
browser: chromium comes from apt (scripts/ensure_chromium.sh) or the test is skipped saying why.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import browser_support as bs
from runbook import sandbox, workdir

try:
    from playwright import sync_api
except ImportError:  # the browser tests skip; the settings tests below still run
    sync_api = None


def _notebook(name: str, *marks: pytest.MarkDecorator) -> Any:
    present = (bs.NOTEBOOKS / f"{name}.ipynb").is_file()
    return pytest.param(
        name, id=name, marks=[*marks, pytest.mark.skipif(not present, reason="notebook not present")]
    )


NOTEBOOKS = [
    _notebook("01_certificates"),
    _notebook("03_client_checks", pytest.mark.integration),  # starts the sandbox Redis itself
    _notebook("08_training", pytest.mark.integration),  # self-test: starts a broken lab Redis, fixes it
]

RUN_TIMEOUT = 120.0  # seconds for Run All Cells; a default run takes a few seconds


# --------------------------------------------------------------------------- fixtures (module scope:
# the server and the browser are shared by the notebooks, and gone before other test modules run)


@pytest.fixture(scope="module")
def chromium() -> str:
    if sync_api is None:
        pytest.skip("playwright-python is missing: run `make setup-dev` (the dev extra)")
    path, reason = bs.find_chromium()
    if path is None:
        pytest.skip(f"chromium unavailable: {reason}")
    return path


@pytest.fixture(scope="module")
def lab(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[bs.Lab]:
    """JupyterLab serving copies of every notebook; it starts while chromium launches."""
    notebooks = sorted(bs.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    server = bs.start_lab(tmp_path_factory.mktemp("lab"), notebooks)
    try:
        yield server
    finally:
        bs.stop_lab(server)
        bs.ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(server.log, bs.ARTIFACTS / "browser-jupyter-lab.log")


@pytest.fixture(scope="module")
def browser(lab: bs.Lab, chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=chromium,
            headless=True,
            args=bs.CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(60_000)
        yield context
        context.close()


@pytest.fixture(scope="module")
def page(browser: Any, lab: bs.Lab) -> Iterator[Any]:
    """One JupyterLab page for all notebooks, as an operator works through them."""
    bs.wait_ready(lab)
    tab = browser.new_page()
    yield tab
    tab.close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- the test


@pytest.mark.browser
@pytest.mark.timeout(900)  # the first one may apt-get chromium
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_jupyterlab(name: str, page: Any, lab: bs.Lab) -> None:
    committed = bs.NOTEBOOKS / f"{name}.ipynb"
    before = _sha(committed)
    bs.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = bs.ARTIFACTS / f"browser-{name}"
    try:
        _run_in_lab(page, lab, committed, shot)
    except BaseException:
        page.screenshot(path=f"{shot}-failure.png")
        raise
    finally:
        bs.shutdown_kernels(lab)  # normally already done by File > Close and Shut Down
        sandbox.stop(lab.work)  # notebooks 02+ start the sandbox Redis; never leave it running
    assert _sha(committed) == before, f"{committed} was modified by the browser run"


def _run_in_lab(page: Any, lab: bs.Lab, committed: Path, shot: Path) -> None:
    name = committed.stem
    clock = bs.Phases(f"{shot}-timings.json")
    panel = bs.open_notebook(page, lab, committed.name)
    statusbar = page.locator("#jp-main-statusbar")
    dialog = page.locator(".jp-Dialog")
    dialog.or_(statusbar.get_by_text("| Idle")).first.wait_for(timeout=60_000)

    # Opened with no kernel chooser, trust dialog or news toast (jupyter/settings/overrides.json),
    # and the notebook's own kernel (python3: this venv's ipykernel) started by itself.
    assert dialog.count() == 0, f"unexpected dialog: {dialog.all_inner_texts()}"
    sync_api.expect(statusbar).to_contain_text("Python 3 (ipykernel) | Idle")
    clock.done("open notebook, kernel idle")
    toasts = page.locator(".Toastify__toast")
    assert toasts.count() == 0, f"unexpected notifications: {toasts.all_inner_texts()}"

    # Clear the committed outputs, so whatever shows afterwards comes from this run.
    bs.menu(page, "Edit", "editmenu:clear-all")  # Clear Outputs of All Cells
    sync_api.expect(panel.locator(".jp-OutputArea-output")).to_have_count(0)
    bs.menu(page, "Run", "runmenu:run-all")  # Run All Cells
    state = bs.wait_run_finished(page, bs.code_cell_count(committed), RUN_TIMEOUT)
    clock.done("run all cells")
    assert not state["errors"], f"{name} failed in JupyterLab:\n" + "\n".join(state["errors"])

    # The ipywidgets form is real widget DOM, one labelled control per parameter.
    form = panel.locator(".jupyter-widgets.widget-vbox").first
    form.wait_for()
    form.evaluate("e => e.scrollIntoView({block: 'start'})")
    labels = form.locator(".widget-label, .widget-label-basic span").all_text_contents()
    missing = set(bs.form_parameters(committed)) - {label.strip() for label in labels}
    assert bs.form_parameters(committed), f"{name} has no parameter_form(...) call"
    assert not missing, f"form controls missing for {sorted(missing)}; labels seen: {labels}"
    assert form.locator("input, select").count() >= len(bs.form_parameters(committed))  # select: a dropdown
    page.screenshot(path=f"{shot}-form.png")

    # The verdict: the last check table (display.checks_table), every status "✔ pass".
    verdict = panel.locator("table.runbook-table", has=page.locator("th", has_text="status")).last
    verdict.scroll_into_view_if_needed()
    header = [h.strip() for h in verdict.locator("th").all_text_contents()]
    statuses = verdict.locator(f"tbody tr td:nth-child({header.index('status') + 1})").all_text_contents()
    assert statuses, f"{name}: the verdict table has no rows"
    assert all(s.strip() == "✔ pass" for s in statuses), f"{name} verdict: {statuses}"
    page.screenshot(path=f"{shot}-verdict.png")
    summary = workdir.read_summary(lab.work, name)
    assert summary is not None and summary["ok"] is True, f"{name} summary record: {summary}"
    if name == "08_training":
        _training_ticket(page, panel, shot)

    clock.done("check form and verdict")
    _form_drives_kernel(page, panel)
    clock.done("edit form, read variable in kernel")
    bs.close_notebook(page)
    clock.done("close and shut down")


def _training_ticket(page: Any, panel: Any, shot: Path) -> None:
    """08's self-test as a trainee sees it: the ticket of the running lab, then the first live
    check failing (the lab really is broken) with a fix column that points at the toolkit."""
    ticket = panel.locator("table.runbook-table", has=page.locator("td", has_text="reported")).first
    rows = [r.strip() for r in ticket.locator("tbody tr td:first-child").all_text_contents()]
    assert {"ticket", "reported", "application settings", "server config"} <= set(rows), rows
    first_check = panel.locator("table.runbook-table", has=page.locator("caption", has_text="lab check #1"))
    sync_api.expect(first_check.locator("tbody")).to_contain_text("✘ fail")
    viewport = page.viewport_size
    page.set_viewport_size({"width": viewport["width"], "height": 1500})  # ticket and check in one shot
    try:
        step1 = panel.locator("h2", has_text="Step 1").first
        step1.evaluate("e => e.scrollIntoView({block: 'start'})")
        sync_api.expect(ticket).to_be_in_viewport()
        sync_api.expect(first_check).to_be_in_viewport()
        page.screenshot(path=f"{shot}-ticket.png")
    finally:
        page.set_viewport_size(viewport)


def _form_drives_kernel(page: Any, panel: Any) -> None:
    """Edit a form control, then read the variable in a new cell run by the same (venv) kernel."""
    form = panel.locator(".jupyter-widgets.widget-vbox").first
    control = form.locator(".widget-text", has=page.locator("input[type=number]")).first
    if control.count():
        param = control.locator(".widget-label").text_content().strip()
        new = str(int(control.locator("input").input_value()) + 1)
    else:
        control = form.locator(".widget-text", has=page.locator("input[type=text]")).first
        if not control.count():
            return  # a form of checkboxes only: nothing to type into
        param = control.locator(".widget-label").text_content().strip()
        new = "browser-test"
    control.locator("input").fill(new)
    control.locator("input").press("Enter")

    panel.locator(".jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")  # insert a cell below, in the copy the server holds
    page.keyboard.press("Enter")
    page.keyboard.insert_text(f"import sys; print('VALUE', {param}, 'PREFIX', sys.prefix)")
    page.keyboard.press("Shift+Enter")
    output = panel.locator(".jp-OutputArea-output", has_text="VALUE").last
    # an int prints as is; a str or list parameter as 'browser-test' or ['browser-test']
    sync_api.expect(output).to_contain_text(re.compile(rf"VALUE \W*{new}\W* PREFIX"), timeout=30_000)
    sync_api.expect(output).to_contain_text(f"PREFIX {sys.prefix}")


# --------------------------------------------------------------------------- `make lab` settings (fast)


def test_make_lab_serves_notebooks_with_the_settings_tested_here() -> None:
    out = subprocess.run(["make", "-n", "-s", "lab"], cwd=bs.ROOT, capture_output=True, text=True, check=True)
    command = next(line for line in out.stdout.splitlines() if "jupyter lab" in line)
    settings = f"--LabApp.app_settings_dir={bs.LAB_SETTINGS}"
    assert settings in bs.lab_command(bs.ROOT, 8888, "token"), "the browser test must use make lab's settings"
    assert settings in command.split(), f"make lab does not use {bs.LAB_SETTINGS}: {command}"
    assert "--ServerApp.root_dir=notebooks" in command.split(), command


def test_lab_overrides_are_known_settings_with_valid_values() -> None:
    """A typo in overrides.json is silently ignored by JupyterLab: check it against the schemas."""
    jsonschema = pytest.importorskip("jsonschema")
    overrides = json.loads((bs.LAB_SETTINGS / "overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    share = Path(sys.prefix) / "share" / "jupyter"
    for plugin, values in overrides.items():
        package, name = plugin.split(":")
        schemas = list(share.glob(f"**/schemas/{package}/{name}.json"))
        assert schemas, f"no schema for {plugin} under {share}: is the extension installed?"
        schema = json.loads(schemas[0].read_text())
        unknown = set(values) - set(schema["properties"])
        assert not unknown, f"{plugin} has no setting {sorted(unknown)}"
        jsonschema.validate(
            values, {"type": "object", "properties": schema["properties"], "additionalProperties": False}
        )


# --------------------------------------------------------------------------- docs/screenshots (fast)


def test_every_doc_screenshot_is_made_by_this_test_and_shown_in_the_docs() -> None:
    """docs/screenshots holds exactly what `make screenshots` copies, each one shown by a doc page,
    each copied from a screenshot this module writes for a notebook it runs."""
    on_disk = {p.name for p in bs.SCREENSHOTS_DIR.glob("*.png")}
    assert on_disk == set(bs.SCREENSHOTS), (
        f"docs/screenshots vs browser_support.SCREENSHOTS: {sorted(on_disk)}"
    )
    shown = "".join(p.read_text() for p in [bs.ROOT / "README.md", *sorted((bs.ROOT / "docs").glob("*.md"))])
    assert not [n for n in on_disk if f"screenshots/{n}" not in shown], "a screenshot no doc shows"
    source = Path(__file__).read_text()
    tested = {p.values[0] for p in NOTEBOOKS}
    for artefact in bs.SCREENSHOTS.values():
        notebook, _, kind = artefact.removeprefix("browser-").removesuffix(".png").rpartition("-")
        assert notebook in tested, f"{artefact}: {notebook} is not run by the browser test"
        assert f'{{shot}}-{kind}.png"' in source, f"{artefact}: this module writes no -{kind}.png"


def test_copy_screenshots_copies_all_or_says_which_are_missing(tmp_path: Path) -> None:
    artifacts, dest = tmp_path / "artifacts", tmp_path / "shots"
    artifacts.mkdir()
    for artefact in list(bs.SCREENSHOTS.values())[:-1]:
        (artifacts / artefact).write_bytes(b"png")
    with pytest.raises(SystemExit, match=list(bs.SCREENSHOTS.values())[-1]):
        bs.copy_screenshots(artifacts, dest)
    assert not dest.exists()
    (artifacts / list(bs.SCREENSHOTS.values())[-1]).write_bytes(b"png")
    assert sorted(bs.copy_screenshots(artifacts, dest)) == sorted(p.name for p in dest.iterdir())
