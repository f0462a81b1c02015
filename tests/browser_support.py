"""Helpers for the browser tests: Debian's chromium, an isolated JupyterLab, and the notebook UI.

Nothing is mocked: a real ``jupyter lab`` server (the same settings as ``make lab``) runs the
notebook in a real ipykernel, and a real headless Chromium renders JupyterLab. Playwright only
drives the browser it is given (``executable_path``); it never downloads one.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from runbook import sandbox

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LAB_SETTINGS = ROOT / "jupyter" / "settings"  # the same overrides `make lab` uses
ENSURE_CHROMIUM = ROOT / "scripts" / "ensure_chromium.sh"
ARTIFACTS = ROOT / "build" / "test-artifacts"

# Without the background-networking flags Chromium keeps dialling out, and on a closed network
# its connections are refused; the profile is a fresh dir per run (playwright's user_data_dir).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> tuple[str | None, str]:
    """(path, "") of a working Chromium, installing Debian's package when missing and root;
    (None, reason) when there is none, the reason being one line that says how to get it."""
    try:
        proc = subprocess.run(
            ["bash", str(ENSURE_CHROMIUM)], capture_output=True, text=True, timeout=900, check=False
        )
    except subprocess.TimeoutExpired:
        return None, "installing chromium with apt-get took over 15 minutes: install it by hand"
    path = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    if proc.returncode == 0 and path:
        return path, ""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("ensure_chromium:")]
    return None, lines[-1] if lines else f"scripts/ensure_chromium.sh exited {proc.returncode}"


# --------------------------------------------------------------------------- JupyterLab server


@dataclass
class Lab:
    """A running ``jupyter lab`` on a loopback port, isolated from the user's Jupyter state."""

    root: Path  # the server's root dir: copies of the notebooks, never the committed ones
    work: Path  # RUNBOOK_WORK_DIR of its kernels
    port: int
    token: str
    proc: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "lab") -> str:
        return f"{self.base}/{path}?token={self.token}"

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def api(self, path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(
            f"{self.base}/api/{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            body = resp.read()
        return json.loads(body) if body else None


def lab_command(root: Path, port: int, token: str) -> list[str]:
    """The server command: `make lab`'s settings, headless, on ``port`` with ``token``."""
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.app_settings_dir={LAB_SETTINGS}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
    ]
    if os.geteuid() == 0:  # CI runs as root, like `make lab` there
        command.append("--allow-root")
    return command


def lab_env(state: Path, work: Path) -> dict[str, str]:
    """Environment with every Jupyter/IPython state dir inside ``state`` and a fresh work dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    dirs = {
        "JUPYTER_CONFIG_DIR": "config",
        "JUPYTER_DATA_DIR": "data",
        "JUPYTER_RUNTIME_DIR": "runtime",
        "JUPYTERLAB_SETTINGS_DIR": "user-settings",
        "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
        "IPYTHONDIR": "ipython",
    }
    for var, name in dirs.items():
        (state / name).mkdir(parents=True, exist_ok=True)
        env[var] = str(state / name)
    env["RUNBOOK_WORK_DIR"] = str(work)
    return env


def start_lab(tmp: Path, notebooks: list[Path]) -> Lab:
    """Start ``jupyter lab`` in the background serving copies of ``notebooks`` (see wait_ready)."""
    root, work, state = tmp / "lab-root", tmp / "work", tmp / "jupyter-state"
    root.mkdir(parents=True)
    work.mkdir(parents=True)
    for nb in notebooks:
        shutil.copy2(nb, root / nb.name)
    port, token = sandbox.free_port(), secrets.token_hex(16)
    log = tmp / "jupyter-lab.log"
    env = lab_env(state, work)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            lab_command(root, port, token),
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Lab(root, work, port, token, proc, log, env)


def wait_ready(lab: Lab, timeout: float = 60.0) -> None:
    """Block until the server answers its REST API; fail with its log if it exits or hangs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {lab.proc.returncode}:\n{lab.log_tail()}")
        with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
            lab.api("status")
            return
        time.sleep(0.1)
    raise RuntimeError(f"jupyter lab did not answer /api/status within {timeout:.0f}s:\n{lab.log_tail()}")


def shutdown_kernels(lab: Lab) -> None:
    """Shut down every kernel session of the server (frees the CPU between notebooks)."""
    with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
        for session in lab.api("sessions"):
            lab.api(f"sessions/{session['id']}", method="DELETE")


def stop_lab(lab: Lab, timeout: float = 15.0) -> None:
    """Ask the server to shut down (it stops its kernels), then make sure its process group is gone."""
    if lab.proc.poll() is None:
        with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
            lab.api("shutdown", method="POST")
        with contextlib.suppress(subprocess.TimeoutExpired):
            lab.proc.wait(timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(lab.proc.pid, signal.SIGKILL)  # kernels left behind, if any
    with contextlib.suppress(subprocess.TimeoutExpired):
        lab.proc.wait(5)


# --------------------------------------------------------------------------- notebook facts


def form_parameters(notebook: Path) -> list[str]:
    """The names passed to ``parameter_form(globals(), [...])`` in the notebook's code."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code" or "parameter_form" not in cell.source:
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "parameter_form":
                names = node.args[1] if len(node.args) > 1 else None
                if isinstance(names, ast.List | ast.Tuple):
                    return [e.value for e in names.elts if isinstance(e, ast.Constant)]
    return []


def code_cell_count(notebook: Path) -> int:
    nb = nbformat.read(notebook, as_version=4)
    return sum(1 for c in nb.cells if c.cell_type == "code")


# --------------------------------------------------------------------------- the notebook UI

_RUN_STATE_JS = """
() => {
  const panels = [...document.querySelectorAll('.jp-NotebookPanel')].filter(p => !p.classList.contains('lm-mod-hidden'));
  if (panels.length !== 1) return {panels: panels.length};
  const panel = panels[0];
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim());
  const errors = [...panel.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
    .map(e => e.textContent).filter(t => t.includes('Traceback'));
  const status = document.querySelector('#jp-main-statusbar')?.textContent || '';
  return {
    panels: 1,
    prompts,
    busy: prompts.some(p => p.includes('*')) || !/\\|\\s*Idle/.test(status),
    executed: prompts.filter(p => /^\\[\\d+\\]:$/.test(p)).length,
    errors,
  };
}
"""


def run_state(page: Any) -> dict[str, Any]:
    """What the visible notebook shows: its prompts, whether it is busy, the tracebacks it holds."""
    state: dict[str, Any] = page.evaluate(_RUN_STATE_JS)
    return state


def wait_run_finished(page: Any, code_cells: int, timeout: float) -> dict[str, Any]:
    """Poll until every code cell shows an execution count, or a traceback stopped the run."""
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = run_state(page)
        finished = state.get("panels") == 1 and not state["busy"]
        if finished and (state["executed"] >= code_cells or state["errors"]):
            return state
        time.sleep(0.2)
    raise AssertionError(f"the notebook did not finish within {timeout:.0f}s: {state}")


def menu(page: Any, top: str, command: str) -> None:
    """Click a main-menu entry like an operator does, e.g. ("Run", "runmenu:run-all") for
    Run > Run All Cells (entries are found by their command id: labels vary between releases)."""
    page.get_by_role("menuitem", name=top, exact=True).click()
    page.locator(f'.lm-Menu .lm-Menu-item[data-command="{command}"]').click()


def open_notebook(page: Any, lab: Lab, filename: str) -> Any:
    """Open ``filename`` by double-clicking it in the file browser; returns its notebook panel.

    The JupyterLab page is reused between notebooks (loading it costs far more than running a
    notebook); it is reloaded with a fresh workspace only when the previous test left anything open.
    """
    leftovers = page.locator(".jp-NotebookPanel, .jp-Dialog").count() if page.url.startswith(lab.base) else 1
    if leftovers:
        page.goto(lab.url("lab") + "&reset")
    listing = page.locator('.jp-DirListing-item[data-file-type="notebook"]')
    listing.filter(has=page.get_by_text(filename, exact=True)).dblclick()
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    panel.wait_for()
    return panel


def close_notebook(page: Any) -> None:
    """File > Close and Shut Down Notebook, confirmed: the tab closes, its kernel stops."""
    menu(page, "File", "filemenu:close-and-cleanup")
    page.locator(".jp-Dialog").get_by_role("button", name="Ok", exact=True).click()
    page.locator(".jp-NotebookPanel").wait_for(state="detached")


class Phases:
    """Wall-clock seconds per phase of a browser test, rewritten to a JSON artefact after each."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.start = self.last = time.monotonic()
        self.seconds: dict[str, float] = {}

    def done(self, phase: str) -> None:
        now = time.monotonic()
        self.seconds[phase] = round(now - self.last, 1)
        self.last = now
        total = {**self.seconds, "total": round(now - self.start, 1)}
        self.path.write_text(json.dumps(total, indent=2) + "\n")


# --------------------------------------------------------------------------- docs/screenshots

SCREENSHOTS_DIR = ROOT / "docs" / "screenshots"
# docs/screenshots/<name> <- build/test-artifacts/<artefact of the browser test>
SCREENSHOTS = {
    "01_certificates-jupyterlab-form.png": "browser-01_certificates-form.png",
    "01_certificates-jupyterlab-verdict.png": "browser-01_certificates-verdict.png",
    "03_client_checks-jupyterlab-verdict.png": "browser-03_client_checks-verdict.png",
    "08_training-jupyterlab-ticket.png": "browser-08_training-ticket.png",
}


def copy_screenshots(artifacts: Path = ARTIFACTS, dest: Path = SCREENSHOTS_DIR) -> list[str]:
    """Copy the browser test's screenshots to docs/screenshots (`make screenshots`); all or none."""
    missing = [a for a in SCREENSHOTS.values() if not (artifacts / a).is_file()]
    if missing:
        raise SystemExit(
            f"screenshots: {', '.join(missing)} not in {artifacts}: the browser test did not run them "
            "(skipped? see its -rs line); fix that, then `make screenshots`"
        )
    dest.mkdir(parents=True, exist_ok=True)
    for name, artefact in SCREENSHOTS.items():
        shutil.copyfile(artifacts / artefact, dest / name)
    return list(SCREENSHOTS)


if __name__ == "__main__":
    for copied in copy_screenshots():
        print(f"docs/screenshots/{copied}")
