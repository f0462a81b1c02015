"""redis.conf line syntax: split a line like Redis's ``sdssplitargs``, quote a value, join lines.

Redis splits each config line into arguments with double quotes (``\\n``, ``\\xHH`` escapes),
single quotes (only ``\\'`` escapes), and requires a space after a closing quote. :func:`quote`
is the inverse for the values the runbook writes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping


def quote(value: str) -> str:
    """Quote a redis.conf argument when it holds spaces, quotes or is empty."""
    if value and not re.search(r"[\s\"'\\]", value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def conf_text(items: Mapping[str, str]) -> str:
    """Directives (already quoted values) -> redis.conf lines."""
    return "".join(f"{k} {v}\n" for k, v in items.items())


def split_args(line: str) -> list[str]:
    """Split one redis.conf line like Redis's ``sdssplitargs`` (double/single quotes, escapes)."""
    args: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return args
        cur: list[str] = []
        in_dq = in_sq = False
        while True:
            if in_dq:
                if i >= n:
                    raise ValueError("unbalanced double quotes")
                c = line[i]
                if c == "\\" and i + 3 < n and line[i + 1] == "x" and _is_hex(line[i + 2 : i + 4]):
                    cur.append(chr(int(line[i + 2 : i + 4], 16)))
                    i += 3
                elif c == "\\" and i + 1 < n:
                    cur.append(
                        {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}.get(line[i + 1], line[i + 1])
                    )
                    i += 1
                elif c == '"':
                    if i + 1 < n and not line[i + 1].isspace():
                        raise ValueError("closing quote must be followed by a space")
                    in_dq = False
                    i += 1
                    break
                else:
                    cur.append(c)
            elif in_sq:
                if i >= n:
                    raise ValueError("unbalanced single quotes")
                c = line[i]
                if c == "\\" and i + 1 < n and line[i + 1] == "'":
                    cur.append("'")
                    i += 1
                elif c == "'":
                    if i + 1 < n and not line[i + 1].isspace():
                        raise ValueError("closing quote must be followed by a space")
                    in_sq = False
                    i += 1
                    break
                else:
                    cur.append(c)
            else:
                if i >= n or line[i].isspace():
                    break
                c = line[i]
                if c == '"':
                    in_dq = True
                elif c == "'":
                    in_sq = True
                else:
                    cur.append(c)
            i += 1
        args.append("".join(cur))


def _is_hex(s: str) -> bool:
    return len(s) == 2 and all(ch in "0123456789abcdefABCDEF" for ch in s)
