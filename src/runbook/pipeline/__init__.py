"""Headless runs of the notebook sequence with papermill, and the run's audit summary.

``run()`` executes ``notebooks/NN_*.ipynb`` in order against a target (``sandbox``: a local
redis-server the notebooks start, stopped at the end; ``external``: a server given by host, port,
server name and file paths, never started or stopped). Each notebook gets only the parameters it
declares: the common ones (``target``, ``redis_host``, ``redis_port``, ``server_name``,
``ca_file``, ``client_cert``, ``client_key`` and any other common YAML key) plus its own.
Everything is validated before the first notebook runs (RunbookError, exit 2).

A run writes to its output dir: the executed notebooks, ``summary.json`` (outcome per notebook,
the failure with notebook, cell and one-line reason, and the merged audit evidence; see
docs/summary-json.md), ``logs/run.log``, the sandbox Redis logs, and optionally ``report.html``
(nbconvert, code hidden). It stops at the first failing notebook, and finally scans everything it
wrote for private key material and passphrases (:mod:`runbook.hygiene`).

Modules, lowest first: ``discovery`` (which notebooks), ``target`` (:class:`RunTarget`: sandbox or external),
``params`` (params YAML, declared parameters, the validated :class:`Plan`), ``kernel`` (how
kernels are started), ``summary`` (:class:`RunSummary`, evidence, run log), ``report``
(report.html), ``scan`` (secret scan hand-off), ``execute`` (one notebook; refresh in place),
``runner`` (:func:`run`).
"""

from __future__ import annotations

from runbook.pipeline.discovery import NOTEBOOK_GLOB, discover, notebooks_dir
from runbook.pipeline.execute import error_info, failing_line, refresh
from runbook.pipeline.kernel import IpcKernelManager
from runbook.pipeline.params import Plan, declared_parameters, load_params, params_for, plan
from runbook.pipeline.report import write_html_report
from runbook.pipeline.runner import run
from runbook.pipeline.summary import SUMMARY_VERSION, NotebookRun, RunSummary
from runbook.pipeline.target import (
    COMMON_PARAMETERS,
    CONNECTION_PARAMETERS,
    TARGETS,
    RunTarget,
    resolve_target,
)

__all__ = [
    "COMMON_PARAMETERS",
    "CONNECTION_PARAMETERS",
    "NOTEBOOK_GLOB",
    "SUMMARY_VERSION",
    "TARGETS",
    "IpcKernelManager",
    "NotebookRun",
    "Plan",
    "RunSummary",
    "RunTarget",
    "declared_parameters",
    "discover",
    "error_info",
    "failing_line",
    "load_params",
    "notebooks_dir",
    "params_for",
    "plan",
    "refresh",
    "resolve_target",
    "run",
    "write_html_report",
]
