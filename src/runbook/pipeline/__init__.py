"""Headless runs of the notebook sequence with papermill, and the run's audit summary."""

from runbook.pipeline.discovery import discover
from runbook.pipeline.execute import failing_line, refresh
from runbook.pipeline.params import declared_parameters, load_params, plan
from runbook.pipeline.runner import run
from runbook.pipeline.summary import NotebookRun, RunSummary
from runbook.pipeline.target import RunTarget, resolve_target
