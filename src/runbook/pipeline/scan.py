"""The secret scan of a run: everything written to the output dir, and the summary itself.

The scanning is :mod:`runbook.hygiene`'s; here it is pointed at a run (the work dir's keys, the
environment's passphrases) and a hit fails the run with ``SecretLeak``, naming file and line only.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from runbook import hygiene, workdir
from runbook.pipeline.summary import RunSummary, run_error, summary_json


def scan_run(summary: RunSummary, out: Path, work: Path) -> None:
    """Scan ``out`` and the summary; record ``secret_scan`` and fail the run on any leak."""
    key_files = sorted(workdir.pki_dir(work).rglob("*.key"))
    count, leaks = hygiene.scan_dir(out, key_files=key_files)
    leaks += hygiene.scan_text(
        summary_json(summary),
        "summary.json",
        passphrases=hygiene.env_passphrases(),
        key_bodies=hygiene.key_body_lines(key_files),
    )
    summary.secret_scan = {"ok": not leaks, "files": count + 1, "leaks": [asdict(leak) for leak in leaks]}
    if leaks and summary.ok:
        reason = (
            f"private key material or a passphrase in the run's output ({leaks[0].one_line()}): "
            "remove it from the outputs and fix the notebook that printed it"
        )
        summary.fail(run_error(leaks[0].file, "SecretLeak", reason))
