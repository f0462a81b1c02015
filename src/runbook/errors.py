"""The one exception type for errors a user can cause.

Every message is a single line that says what is wrong and names the fix, e.g.
``"ca.key is encrypted: export RUNBOOK_CA_PASSPHRASE with its passphrase"``.
The CLI prints it and exits 2; notebooks let it surface as the cell's error.
"""

from __future__ import annotations


class RunbookError(Exception):
    """A user-facing error: one line, naming the fix."""

    def __init__(self, message: str) -> None:
        if "\n" in message:
            raise ValueError("RunbookError messages must be a single line")
        super().__init__(message)
