"""Secret hygiene: find private key material and passphrases in files a run wrote.

:func:`scan_dir` reads every file under a folder (executed notebooks, summary.json, the HTML
report, logs) and reports:

* PEM private key blocks (``-----BEGIN ... PRIVATE KEY-----``, any flavour, also JSON-escaped);
* lines of the base64 body of known private keys (e.g. the work dir's ``pki/*.key``), so a key
  printed without its PEM armour is still caught;
* the values of passphrase variables in the environment (names containing ``PASSPHRASE``,
  ``PASSWORD`` or ``SECRET``), raw, JSON-escaped and HTML-escaped.

Findings never quote the secret itself: only the file, the kind and the line number.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PEM_PRIVATE = re.compile(r"-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |ANY )?PRIVATE KEY)-----")
SECRET_ENV = re.compile(r"PASSPHRASE|PASSWORD|SECRET", re.IGNORECASE)
MIN_SECRET_LEN = 4
MIN_BODY_LINE = 24


@dataclass(frozen=True)
class Leak:
    """One piece of secret material found in a file (the secret itself is never repeated)."""

    file: str
    kind: str  # pem-private-key | key-body:<key file> | passphrase:<VAR>
    line: int

    def one_line(self) -> str:
        return f"{self.file}:{self.line}: {self.kind}"


def env_passphrases(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Passphrase-like variables of the environment: ``{name: value}`` (values >= 4 characters)."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if SECRET_ENV.search(k) and len(v) >= MIN_SECRET_LEN}


def key_body_lines(key_files: Iterable[Path]) -> dict[str, list[str]]:
    """The base64 body lines of PEM private keys: ``{file name: [lines]}`` (unreadable files skipped)."""
    bodies: dict[str, list[str]] = {}
    for path in key_files:
        try:
            text = Path(path).read_text(errors="replace")
        except OSError:
            continue
        lines = [
            ln.strip()
            for ln in text.splitlines()
            if ln.strip()
            and not ln.startswith("-----")
            and ":" not in ln
            and len(ln.strip()) >= MIN_BODY_LINE
        ]
        if lines:
            bodies[Path(path).name] = lines
    return bodies


def _variants(secret: str) -> set[str]:
    """The secret as written raw and JSON-escaped (HTML entities are undone before searching)."""
    return {secret, json.dumps(secret)[1:-1]}


def scan_text(
    text: str,
    name: str = "<text>",
    *,
    passphrases: Mapping[str, str] | None = None,
    key_bodies: Mapping[str, list[str]] | None = None,
) -> list[Leak]:
    """Find secret material in ``text`` (reported as ``name``)."""
    leaks: list[Leak] = []

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    for m in PEM_PRIVATE.finditer(text):
        leaks.append(Leak(name, "pem-private-key", line_of(m.start())))
    plain = html.unescape(text) if "&" in text else text
    for var, secret in (passphrases or {}).items():
        for form in _variants(secret):
            pos = text.find(form)
            if pos < 0 and plain is not text:
                pos = plain.find(form)
                pos = -1 if pos < 0 else min(pos, len(text) - 1)
            if pos >= 0:
                leaks.append(Leak(name, f"passphrase:{var}", line_of(pos)))
                break
    for key_file, lines in (key_bodies or {}).items():
        for body_line in lines:
            pos = text.find(body_line)
            if pos >= 0:
                leaks.append(Leak(name, f"key-body:{key_file}", line_of(pos)))
                break
    return leaks


def scan_dir(
    folder: Path | str,
    *,
    passphrases: Mapping[str, str] | None = None,
    key_files: Iterable[Path] = (),
) -> tuple[int, list[Leak]]:
    """Scan every file under ``folder``. Returns (files scanned, leaks).

    ``passphrases`` defaults to :func:`env_passphrases`; ``key_files`` are private keys whose
    base64 body must not appear anywhere (e.g. ``sorted((work / "pki").rglob("*.key"))``).
    """
    secrets = env_passphrases() if passphrases is None else passphrases
    bodies = key_body_lines(key_files)
    root = Path(folder)
    count = 0
    leaks: list[Leak] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        count += 1
        text = path.read_bytes().decode("utf-8", errors="replace")
        leaks += scan_text(text, str(path.relative_to(root)), passphrases=secrets, key_bodies=bodies)
    return count, leaks
