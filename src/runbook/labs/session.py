"""The lab commands as functions: start, hint, check, restart, solve, reveal, stop, progress, report.

Each takes the work dir (``None``: :func:`runbook.workdir.work_dir`) and, where it scores, the
trainee (``None``: ``$RUNBOOK_TRAINEE`` or the OS user); the CLI and notebook 08 call these.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runbook import diagnose, drills, pki, workdir
from runbook.client import Endpoint
from runbook.errors import RunbookError
from runbook.labs import catalogue, progress, state
from runbook.labs.checking import LabCheck, check_lab
from runbook.sandbox import Node

TOOLKIT = (
    "runbook diagnose / check / pki inspect / config lint (with --json), openssl s_client / x509 / verify, "
    "redis-cli --tls, the nodes' redis.log; the lab PKI (CA key included) to issue certificates with "
    "`runbook pki create --dir PKI_DIR --client NAME`; edit redis.conf then `runbook lab restart`; "
    "edit client.json (the application's settings)"
)


@dataclass
class Started:
    """What ``lab start`` hands the trainee: the ticket and where everything is. Never the cause."""

    lab: str
    title: str
    ticket: str
    endpoint: Endpoint  # where the application connects (host, port)
    conf: str
    pki_dir: str
    client: dict[str, Any]
    client_file: str
    lab_dir: str
    nodes: list[dict[str, Any]] = field(default_factory=list)
    toolkit: str = TOOLKIT

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document: ``host`` and ``port`` where the application connects, never the cause."""
        doc = asdict(self)
        del doc["endpoint"]
        return {"host": self.endpoint.host, "port": self.endpoint.port, **doc}


@dataclass(frozen=True)
class Hint:
    lab: str
    tier: int
    text: str
    label: str  # where to look | which tool shows it | what to change


@dataclass(frozen=True)
class Reveal:
    """The debrief: the cause, its fix, what happened, how to see it, how to prevent it."""

    lab: str
    cause: str
    summary: str
    fix: str
    happened: str
    see: str
    prevent: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def rows(self) -> list[list[str]]:
        """The debrief as (topic, text) rows, for the CLI and notebook 08."""
        return [
            ["cause", f"{self.cause}: {self.summary}"],
            ["fix", self.fix],
            ["what happened", self.happened],
            ["how to see it", self.see],
            ["how to prevent it", self.prevent],
        ]


TIER_LABELS = ("where to look", "which tool shows it", "what to change")


def catalogue_rows() -> list[dict[str, str]]:
    """The labs as a trainee may see them: name, ticket-like title, fleet or single node."""
    return [{"name": lab.name, "title": lab.title} for lab in catalogue.LABS]


def _work(work: str | Path | None) -> Path:
    return workdir.work_dir(work)


def start(name: str, work: str | Path | None = None, trainee: str | None = None) -> Started:
    """Build lab ``name``'s broken setup under ``<work>/labs/<name>/`` and leave it running.

    Starting a lab that runs already rebuilds it from scratch. Starts processes, writes files.
    """
    lab = catalogue.get(name)
    who = progress.trainee_name(trainee)
    root_work = _work(work)
    root = state.labs_dir(root_work) / name
    if (root / state.STATE_FILE).is_file():
        _teardown(state.load(root_work, name), remove=True)
    problem = ""
    for _ in range(2):  # a free port can be taken before redis binds it: build once more
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        paths = pki.PkiPaths(drills.drill_pki(root / "pki"))
        ca = pki.Issued(pki.load_cert(paths.ca_cert), pki.load_key(paths.ca_key, None, pki.CA_ENV))
        env = drills.DrillEnv(root, paths, ca)
        try:
            setup = lab.build(env)
            break
        except RunbookError as exc:
            problem = str(exc)
            for node in env.nodes:
                state.stop_nodes(_state(lab, root, paths, who, env.nodes, env.nodes[-1]), [node.name])
    else:
        raise RunbookError(f"lab {name} could not be built ({problem}): run `runbook doctor`")
    app = next((n for n in env.nodes if setup.endpoint.port in (n.port, n.plaintext_port)), env.nodes[-1])
    st = _state(lab, root, paths, who, env.nodes, app)
    if name == "vault-migration":
        catalogue.write_passphrase_note(root)
    state.save(st)
    files_written = state.ClientSettings.from_dict(catalogue.client_spec(setup))
    state.write_client(st, files_written)
    progress.record(root_work, who, name, "start")
    return Started(
        lab.name,
        lab.title,
        lab.ticket,
        Endpoint(setup.endpoint.host, setup.endpoint.port),
        str(app.conf_path),
        str(paths.root),
        files_written.to_dict(),
        str(st.client_path),
        str(root),
        [
            {"name": n.name, "role": n.role, "conf": str(n.conf_path), "log": str(n.log_path)}
            for n in env.nodes
        ],
    )


def _state(
    lab: catalogue.Lab, root: Path, paths: pki.PkiPaths, who: str, nodes: list[Node], app: Node
) -> state.LabState:
    return state.LabState(lab.name, str(root), str(paths.root), who, time.time(), app.name, list(nodes))


def hint(
    work: str | Path | None = None,
    trainee: str | None = None,
    tier: int | None = None,
    lab: str | None = None,
) -> Hint:
    """The next hint tier for the running lab (or ``tier`` 1-3); recorded in the trainee's progress."""
    root_work = _work(work)
    st = state.load(root_work, lab)
    who = progress.trainee_name(trainee)
    if tier is None:
        tier = min(3, progress.load(root_work, who).get(st.name, progress.LabRecord(st.name)).hints + 1)
    if tier not in (1, 2, 3):
        raise RunbookError(f"hint tier {tier} does not exist: pass --tier 1, 2 or 3")
    progress.record(root_work, who, st.name, "hint", tier=tier)
    return Hint(st.name, tier, catalogue.get(st.name).hints[tier - 1], TIER_LABELS[tier - 1])


def check(
    work: str | Path | None = None, trainee: str | None = None, lab: str | None = None, settle: float = 3.0
) -> LabCheck:
    """Verify the running lab live (see :func:`runbook.labs.checking.check_lab`); recorded as an attempt."""
    root_work = _work(work)
    st = state.load(root_work, lab)
    result = check_lab(st, settle=settle)
    progress.record(root_work, progress.trainee_name(trainee), st.name, "check", passed=result.ok)
    return result


def restart(
    work: str | Path | None = None, nodes: list[str] | None = None, lab: str | None = None
) -> list[Node]:
    """Restart the lab's server(s) from their redis.conf as on disk. Starts and stops processes."""
    st = state.load(_work(work), lab)
    return state.restart_nodes(st, nodes or None)


def solve(work: str | Path | None = None, trainee: str | None = None, lab: str | None = None) -> LabCheck:
    """Apply the reference fix (instructor, self-test) and check; the trainee's record shows it revealed.

    Writes the lab's files, restarts its servers.
    """
    root_work = _work(work)
    st = state.load(root_work, lab)
    progress.record(root_work, progress.trainee_name(trainee), st.name, "solve")
    catalogue.get(st.name).solve(st)
    return check_lab(state.load(root_work, st.name))


def reveal(work: str | Path | None = None, trainee: str | None = None, lab: str | None = None) -> Reveal:
    """The debrief for the running lab (or ``lab``); recorded (a lab revealed before it was solved scores 0)."""
    root_work = _work(work)
    name = lab or state.load(root_work).name
    item = catalogue.get(name)
    progress.record(root_work, progress.trainee_name(trainee), name, "reveal")
    info = diagnose.CAUSE_INFO[item.cause]
    d = item.debrief
    return Reveal(name, item.cause, info.summary, info.fix, d.happened, d.see, d.prevent)


def stop(work: str | Path | None = None, lab: str | None = None, keep: bool = False) -> dict[str, Any]:
    """Stop exactly the lab's recorded processes and remove its folder (``keep``: leave the folder).

    Nothing outside ``<work>/labs/<name>/`` is touched; progress stays. Stops processes.
    """
    root_work = _work(work)
    st = state.load(root_work, lab)
    stopped = _teardown(st, remove=not keep)
    state.clear_active(root_work, st.name)
    return {"lab": st.name, "stopped": stopped, "removed": "" if keep else st.root}


def _teardown(st: state.LabState, remove: bool) -> list[str]:
    stopped = state.stop_nodes(st)
    if remove:
        shutil.rmtree(st.root, ignore_errors=True)
    return stopped


def progress_rows(work: str | Path | None = None, trainee: str | None = None) -> list[dict[str, Any]]:
    """One trainee's records (every lab of the catalogue, started or not)."""
    who = progress.trainee_name(trainee)
    records = progress.load(_work(work), who)
    return [
        {"trainee": who, **records.get(lab.name, progress.LabRecord(lab.name)).to_dict()}
        for lab in catalogue.LABS
    ]


def report(work: str | Path | None = None, plot: str | Path | None = None) -> dict[str, Any]:
    """The instructor's view: every trainee's records, totals per trainee, and the plot when asked."""
    rows = progress.report_rows(_work(work))
    totals: dict[str, dict[str, Any]] = {}
    for row in rows:
        t = totals.setdefault(
            row["trainee"], {"trainee": row["trainee"], "solved": 0, "revealed": 0, "score": 0}
        )
        t["solved"] += row["status"] == "solved"
        t["revealed"] += row["status"] == "revealed"
        t["score"] += row["score"]
    written = str(progress.plot_minutes(rows, plot)) if plot else ""
    return {"rows": rows, "trainees": list(totals.values()), "plot": written}
