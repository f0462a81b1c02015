"""Running a snippet exactly as printed, and finding out whether redis-py can verify a server at all."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from runbook.client.contexts import TlsClientFiles, tls_context
from runbook.client.snippets import Snippet


@dataclass(frozen=True)
class SnippetRun:
    """The outcome of running one snippet as printed."""

    tool: str
    ran: bool
    ok: bool
    output: str


def run_snippet(
    snippet: Snippet, *, node_dir: Path | str | None = None, timeout: float = 30.0, skip_reason: str = ""
) -> SnippetRun:
    """Run ``snippet`` exactly as printed: shell with bash, Python with this interpreter, JavaScript with
    node in ``node_dir`` (a folder where ``npm install ioredis`` was run). Starts a process.

    ``ran`` is False (with the reason in ``output``) when the tool is not available here, or when
    ``skip_reason`` is given (see :func:`redis_py_skip_reason`).
    """
    import shutil
    import subprocess
    import sys
    import tempfile

    if skip_reason:
        return SnippetRun(snippet.tool, False, False, f"not run: {skip_reason}")
    cwd: str | None = None
    if snippet.language == "shell":
        argv = ["bash", "-c", snippet.text]
    elif snippet.language == "python":
        argv = [sys.executable, "-c", snippet.text]
    else:
        if not shutil.which("node"):
            return SnippetRun(snippet.tool, False, False, "not run: node is not installed")
        if not node_dir or not (Path(node_dir) / "node_modules" / "ioredis").is_dir():
            return SnippetRun(
                snippet.tool, False, False, "not run: set install_ioredis=True (npm install ioredis)"
            )
        cwd = str(node_dir)
        with tempfile.NamedTemporaryFile("w", suffix=".js", dir=cwd, delete=False) as fh:
            fh.write(snippet.text)
        argv = ["node", fh.name]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False)
    except subprocess.TimeoutExpired:
        return SnippetRun(snippet.tool, True, False, f"timed out after {timeout:.0f}s")
    finally:
        if cwd:
            Path(argv[1]).unlink(missing_ok=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    ok = proc.returncode == 0 and snippet.expect in lines
    shown = snippet.expect if ok else " ".join((proc.stderr or proc.stdout).split())[:200]
    return SnippetRun(snippet.tool, True, ok, shown)


def redis_py_skip_reason(host: str, port: int, files: TlsClientFiles, server_name: str = "") -> str:
    """Why redis-py cannot verify this server, or "" when it can. Opens at most one connection.

    redis-py (7.4) verifies the certificate for the host it connects to and has no SNI / server-name
    option: reached by an address its certificate does not name (``server_name`` differs), a verified
    redis-py connection is impossible. Any other failure returns "" so that redis-py reports it itself.
    """
    if not server_name or server_name == host:
        return ""
    try:
        with (
            socket.create_connection((host, port), timeout=5) as raw,
            tls_context(files).wrap_socket(raw, server_hostname=host),
        ):
            return ""
    except ssl.SSLCertVerificationError as exc:
        if "mismatch" not in str(exc) and "doesn't match" not in str(exc):
            return ""
    except OSError:
        return ""
    return (
        f"redis-py verifies the certificate for the host it connects to ({host}), which the certificate "
        f"does not name, and has no server-name option: connect by a name it carries ({server_name})"
    )
