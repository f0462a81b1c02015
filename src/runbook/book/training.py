"""Notebook 08 (training): every step its cells call, over :mod:`runbook.labs`.

Two modes. ``train`` (JupyterLab): the trainee starts a lab, reads the ticket, investigates with the
toolkit cells and their own terminal, fixes it, re-runs the check, asks for hints, and reveals the
debrief. ``self-test`` (headless, papermill/nbval, the default): start, the check fails, the
reference fix, the check passes, stop; recorded under the trainee ``self-test``. Nothing shown in
self-test mode names the cause or the fix, so the committed outputs hold no answer. Under
``target="external"`` nothing is started: every step says ``skip`` and why.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook import diagnose, display, drills, labs, workdir
from runbook.book.summaries import Summary
from runbook.errors import RunbookError
from runbook.labs import progress as lab_progress
from runbook.labs import state as lab_state
from runbook.results import CheckResult

MODES: tuple[str, ...] = ("self-test", "train")
SELF_TEST_TRAINEE = "self-test"
SKIP_EXTERNAL = "labs start local broken servers: not run under target external (run with target sandbox)"
_LOG_LINE = re.compile(r"Error accepting|Failed to|SSL routines|MASTER|Master|master|refused|alert", re.I)


@dataclass
class Training:
    """One notebook session on one lab: who, which lab, which mode, and what happened so far."""

    work: Path
    lab: str
    trainee: str
    mode: str
    external: bool = False
    checks: list[labs.LabCheck] = field(default_factory=list)
    stopped: bool = False

    @property
    def self_test(self) -> bool:
        return self.mode == "self-test"

    def start(self) -> display.Table:
        """Start the lab (its servers keep running) and show the ticket and where things are."""
        if self.external:
            return display.Table(["ticket", ""], [["skip", SKIP_EXTERNAL]])
        s = labs.start(self.lab, self.work, self.trainee)
        rows = [
            ["ticket", s.title],
            ["reported", s.ticket],
            ["application settings", _rel(s.client_file, self.work)],
            ["server config", _rel(s.conf, self.work)],
            ["lab PKI (CA key included)", _rel(s.pki_dir, self.work)],
            ["you may use", s.toolkit],
        ]
        return display.Table(["", self.lab], rows)

    def application_error(self) -> str:
        """What the application sees when it connects with its settings (the error, or the reply)."""
        if self.external:
            return f"skip: {SKIP_EXTERNAL}"
        st = lab_state.load(self.work, self.lab)
        s = lab_state.read_client(st)
        f = s.endpoint.files
        client: dict[str, Any] = {"tls": s.tls, "ca": f.ca or None, "cert": f.cert, "key": f.key}
        client.update(ciphers=s.ciphers or None, min_version=s.version("min"), max_version=s.version("max"))
        return drills.symptom_of(drills.Setup(s.endpoint, client))

    def server_log(self, limit: int = 8) -> list[str]:
        """The distinct error lines in the lab's server logs (prefixes, ports and paths dropped)."""
        if self.external:
            return [f"skip: {SKIP_EXTERNAL}"]
        st = lab_state.load(self.work, self.lab)
        _settle([n.log_path for n in st.nodes])
        found: list[str] = []
        for node in st.nodes:
            for line in diagnose.read_server_log(node.log_path):
                text = f"{node.name}: {drills.sanitize(line)}"
                ours = "unexpected eof" in line  # our own readiness probe closing its TCP connection
                if _LOG_LINE.search(line) and not ours and text not in found:
                    found.append(text)
        return sorted(found)[:limit] or ["no error lines in the server logs"]

    def check(self) -> display.Table:
        """``lab check``: the live setup as the application connects; recorded as an attempt."""
        if self.external:
            return display.checks_table([CheckResult("lab-check", "skip", SKIP_EXTERNAL)])
        result = labs.check(self.work, self.trainee, self.lab)
        self.checks.append(result)
        return display.checks_table(result.checks, f"lab check #{len(self.checks)}")

    def hint(self, tier: int) -> str:
        """Hint ``tier`` (1 where to look, 2 which tool, 3 what to change; recorded); 0: none."""
        if tier == 0 or self.external:
            return "no hint requested (set hint_tier to 1, 2 or 3 and re-run this cell)"
        h = labs.hint(self.work, self.trainee, tier, self.lab)
        return f"hint {h.tier}/3 ({h.label}): {h.text}"

    def fix(self) -> str:
        """Self-test: apply the reference fix (shown as done, never what it was). Train: your turn."""
        if self.external:
            return f"skip: {SKIP_EXTERNAL}"
        if not self.self_test:
            return "train mode: fix it with the toolkit and your terminal, then re-run the check below"
        labs.solve(self.work, self.trainee, self.lab)
        return "self-test: the reference fix was applied"

    def verify(self) -> str:
        """Self-test: the last check must pass and the first must have failed (raises otherwise)."""
        if self.external or not self.checks:
            return "skip: no check ran"
        last = self.checks[-1]
        if self.self_test:
            assert not self.checks[0].ok, (
                f"lab {self.lab} was not broken at start: `runbook lab start {self.lab}`"
            )
            assert last.ok, f"lab {self.lab} still fails after the reference fix: `runbook lab check --json`"
        return "fixed" if last.ok else "not fixed yet: investigate, change something, re-run the check"

    def debrief(self, reveal: bool) -> display.Table:
        """The debrief when ``reveal`` (recorded: revealed before solved scores 0); else how to get it."""
        if not reveal or self.external:
            return display.Table(["debrief", ""], [["hidden", "set reveal=True after your attempt"]])
        r = labs.reveal(self.work, self.trainee, self.lab)
        return display.Table(["debrief", r.lab], r.rows())

    def progress(self) -> display.Table:
        """This trainee's record of this lab: status, attempts, hints, score."""
        record = lab_progress.load(self.work, self.trainee).get(self.lab, lab_progress.LabRecord(self.lab))
        fields = ["lab", "status", "attempts", "hints", "score"]
        return display.record_table([record.to_dict()], fields, f"progress of {self.trainee}")

    def finish(self) -> str:
        """Self-test, or a solved lab: stop its servers and remove its folder. Else leave it running."""
        if self.external:
            return f"skip: {SKIP_EXTERNAL}"
        if self.self_test or (self.checks and self.checks[-1].ok):
            labs.stop(self.work, self.lab)
            self.stopped = True
            return f"lab {self.lab} stopped, its folder removed"
        return f"lab {self.lab} keeps running: `runbook lab stop` when you are done"

    def summary(self) -> Summary:
        """The verdict table and the record for ``<work>/summaries/08_training.json`` (no secrets)."""
        if self.external:
            verdict = [CheckResult("training", "skip", SKIP_EXTERNAL)]
        else:
            first, last = self.checks[0] if self.checks else None, self.checks[-1] if self.checks else None
            verdict = [
                CheckResult("lab-started", "pass", f"{self.lab} ({self.mode})"),
                _verdict("broken-at-start", first is not None and not first.ok, "the first check failed"),
                _verdict(
                    "fixed", last is not None and last.ok, "the last check passed", "fix it, re-run the check"
                ),
                _verdict(
                    "stopped",
                    self.stopped or not self.self_test,
                    "servers stopped" if self.stopped else "running",
                ),
            ]
        return Summary(
            "08_training", verdict, {}, {"lab": self.lab, "mode": self.mode, "trainee": self.trainee}
        )


def _settle(logs: list[Path], quiet: float = 0.2, limit: float = 1.5) -> None:
    """Wait until the logs stop growing (a server writes a rejected handshake a moment later)."""
    sizes: list[int] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        now = [p.stat().st_size if p.exists() else 0 for p in logs]
        if now == sizes:
            return
        sizes = now
        time.sleep(quiet)


def _verdict(
    check_id: str, ok: bool, detail: str, fix: str = "re-run the notebook in self-test mode"
) -> CheckResult:
    return CheckResult(check_id, "pass" if ok else "fail", detail, "" if ok else fix)


def _rel(path: str, work: Path) -> str:
    p = Path(path)
    return f"<work dir>/{p.relative_to(work)}" if p.is_relative_to(work) else str(p)


def lab_names() -> list[str]:
    """The labs the form offers (names only: they never give the cause away)."""
    return labs.names()


def catalogue() -> display.Table:
    """The labs a trainee may pick: name and ticket-like title (never the cause)."""
    return display.record_table(labs.catalogue_rows(), ["name", "title"], "labs")


def training(
    work_dir: str | Path, lab: str, mode: str, trainee: str = "", target: str = "sandbox"
) -> Training:
    """The session from the notebook's parameters, checked first (one line naming the fix)."""
    labs.get(lab)
    if mode not in MODES:
        raise RunbookError(f"mode {mode!r} is unknown: set it to self-test or train")
    if target not in ("sandbox", "external"):
        raise RunbookError(f"unknown target {target!r}: set target to sandbox or external")
    who = SELF_TEST_TRAINEE if mode == "self-test" else lab_progress.trainee_name(trainee or None)
    return Training(workdir.work_dir(work_dir or None), lab, who, mode, external=target == "external")
