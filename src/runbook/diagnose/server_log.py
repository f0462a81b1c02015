"""A redis-server log as the diagnosis reads it: messages without prefixes, the lines of the last
start or those written since a byte offset, the sandbox node's log for a port, and whether a key the
server failed to load is an encrypted PEM. Reads files only; changes nothing."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path

from runbook.errors import RunbookError

_LOG_PREFIX = re.compile(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [.*#-] (.*)$")
_INTERESTING = re.compile(
    r"Failed to|Error accepting|SSL routines|MASTER|master|Master|error|Error|Connection reset", re.IGNORECASE
)


def log_message(line: str) -> str:
    """A Redis log line without its ``pid:role date time level`` prefix."""
    match = _LOG_PREFIX.match(line)
    message = match.group(1) if match else line.strip()
    return re.sub(r"\s*\(conn: [^)]*\)$", "", message)


def is_interesting(line: str) -> bool:
    """Worth showing as evidence: failures, TLS and replication lines (not start-up noise)."""
    noise = ("WARNING Memory overcommit", "unexpected eof while reading")  # the latter: bare TCP probes
    return bool(_INTERESTING.search(line)) and not any(n in line for n in noise)


def read_server_log(path: Path | str, *, since: int | None = None, lines: int = 200) -> list[str]:
    """Messages of a redis-server log (prefixes stripped). Reads a file; changes nothing.

    ``since``: a byte offset (from :func:`log_size`): only what was written after it. Without it,
    the messages of the last start (from the last ``Redis is starting`` line), at most ``lines``.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            if since is not None:
                fh.seek(since)
            data = fh.read().decode(errors="replace")
    except OSError:
        return []
    raw = data.splitlines()
    if since is None:
        starts = [i for i, ln in enumerate(raw) if "Redis is starting" in ln]
        if starts:
            raw = raw[starts[-1] :]
    return [log_message(ln) for ln in raw[-lines:] if ln.strip()]


def log_size(path: Path | str | None) -> int | None:
    """The byte offset to pass as ``since`` later (0 for a missing file, ``None`` for no path)."""
    if path is None:
        return None
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def sandbox_log_for(port: int, work: Path | str | None = None) -> Path | None:
    """The log file of the sandbox node listening on ``port`` (TLS or plaintext), if any."""
    from runbook import sandbox

    try:
        box = sandbox.status(work)
    except (OSError, ValueError, RunbookError):
        return None
    if box is None:
        return None
    for node in box.nodes:
        if port in (node.port, node.plaintext_port):
            return node.log_path
    return None


_FAILED_KEY = re.compile(r"Failed to load private key: (\S+?): ")


def failed_key_is_encrypted(log: Sequence[str], base: Path) -> bool:
    """True when the server log names a private key it failed to load and that file is an encrypted PEM.

    With a wrong ``tls-key-file-pass`` OpenSSL usually says "bad decrypt", but about one time in 256
    the wrong key happens to pass the padding check and the decoder reports "unsupported" instead;
    the file itself then tells a passphrase problem from an unreadable or foreign file.
    """
    for line in log:
        match = _FAILED_KEY.search(line)
        if not match:
            continue
        path = Path(match.group(1))
        path = path if path.is_absolute() else base / path
        try:
            with path.open("rb") as fh:
                head = fh.read(128)
        except OSError:
            continue
        if b"ENCRYPTED PRIVATE KEY" in head or b"Proc-Type: 4,ENCRYPTED" in head:
            return True
    return False


def wait_new_lines(path: Path, before: int | None, wait: float = 0.5) -> list[str]:
    """Lines written after offset ``before``, waiting up to ``wait`` s for the server's TLS error."""
    deadline = time.monotonic() + wait
    lines = read_server_log(path, since=before)
    while (
        not any("Error accepting" in ln or "SSL routines" in ln for ln in lines)
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
        lines = read_server_log(path, since=before)
    return lines
