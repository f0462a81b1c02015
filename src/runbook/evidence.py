"""Audit evidence: merge the ``evidence`` of each notebook's summary record into one view.

Each notebook's record (``workdir.write_summary``) carries ``evidence``: the facts it established
(shared keys below). :func:`aggregate` merges them for ``summary.json`` with fixed, documented rules
(docs/summary-json.md), keeps which notebook said what (``sources``), lists disagreements
(``conflicts``) and the shared keys nobody reported (``missing``). Pure data in, data out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

#: The shared evidence keys, in the order summary.json shows them.
SCALAR_KEYS = ("redis_version", "target", "topology")
BOOL_KEYS = ("mutual_tls_enforced", "plaintext_refused")
LIST_KEYS = ("protocols_accepted", "protocols_refused", "ciphers_accepted")
RECORD_KEYS = ("certificates", "rotation")
KEYS = (*SCALAR_KEYS, *LIST_KEYS, *BOOL_KEYS, *RECORD_KEYS)

#: Older records put these evidence keys at the top level instead of under ``evidence``.
_LEGACY_TOP_LEVEL = ("certificates", "rotation")


def record_evidence(record: Mapping[str, Any] | None) -> dict[str, Any]:
    """The evidence of one summary record: its ``evidence`` mapping (plus legacy top-level keys)."""
    if not record:
        return {}
    found = dict(record.get("evidence") or {})
    for key in _LEGACY_TOP_LEVEL:
        if key not in found and key in record:
            found[key] = record[key]
    if "certificates" in found:
        found["certificates"] = [_certificate(c) for c in found["certificates"] or []]
    return found


def _certificate(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A certificate entry with a ``file`` name (from ``path`` when only that was given)."""
    cert = dict(entry)
    if "file" not in cert and "role" not in cert and cert.get("path"):
        cert["file"] = PurePath(str(cert["path"])).name
    return cert


def _union(lists: Iterable[Sequence[Any]]) -> list[Any]:
    seen: list[Any] = []
    for values in lists:
        for v in values or []:
            if v not in seen:
                seen.append(v)
    return seen


@dataclass
class EvidenceReport:
    """Merged evidence plus its provenance (summary.json ``evidence`` and ``evidence_sources``...)."""

    evidence: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, list[str]] = field(default_factory=dict)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    by_notebook: dict[str, dict[str, Any]] = field(default_factory=dict)


def aggregate(records: Sequence[tuple[str, Mapping[str, Any] | None]]) -> EvidenceReport:
    """Merge the evidence of ``(notebook, record)`` pairs, in run order.

    Rules: scalars (``redis_version``, ``target``, ``topology``) take the last reported value,
    and differing values are listed in ``conflicts``; lists are unions in first-seen order;
    booleans are AND-ed (one notebook that saw plaintext accepted makes ``plaintext_refused``
    false); ``certificates`` are de-duplicated by (file or role, serial); ``rotation`` entries
    are concatenated, each tagged with its notebook. Other keys take the last reported value.
    """
    per_notebook = {name: record_evidence(rec) for name, rec in records}
    merged: dict[str, Any] = {}
    sources: dict[str, list[str]] = {}
    conflicts: list[dict[str, Any]] = []
    seen_values: dict[str, dict[str, Any]] = {}
    for name, ev in per_notebook.items():
        for key, value in ev.items():
            sources.setdefault(key, []).append(name)
            if key in LIST_KEYS:
                given = value if isinstance(value, list | tuple) else [value]  # reported in problems()
                merged[key] = _union([merged.get(key, []), list(given)])
            elif key in BOOL_KEYS:
                merged[key] = bool(value) and merged.get(key, True)
                seen_values.setdefault(key, {})[name] = bool(value)
            elif key == "certificates":
                certs = merged.setdefault(key, [])
                ids = {(c.get("file") or c.get("role"), c.get("serial")) for c in certs}
                for cert in value:
                    ident = (cert.get("file") or cert.get("role"), cert.get("serial"))
                    if ident not in ids:
                        ids.add(ident)
                        certs.append({**cert, "notebook": name})
            elif key == "rotation":
                merged.setdefault(key, []).extend({**r, "notebook": name} for r in value or [])
            else:
                merged[key] = value
                seen_values.setdefault(key, {})[name] = value
    for key, values in seen_values.items():
        distinct = {repr(v) for v in values.values()}
        if len(distinct) > 1:
            conflicts.append({"key": key, "values": values})
    ordered = {k: merged[k] for k in KEYS if k in merged}
    ordered.update({k: v for k, v in merged.items() if k not in ordered})
    return EvidenceReport(ordered, sources, conflicts, [k for k in KEYS if k not in merged], per_notebook)


def problems(evidence: Mapping[str, Any]) -> list[str]:
    """Where ``evidence`` breaks the shared convention (wrong types, key material); empty when fine."""
    found = []
    for key in SCALAR_KEYS:
        if key in evidence and not isinstance(evidence[key], str):
            found.append(f"{key} must be a string")
    for key in BOOL_KEYS:
        if key in evidence and not isinstance(evidence[key], bool):
            found.append(f"{key} must be true or false")
    for key in (*LIST_KEYS, *RECORD_KEYS):
        if key in evidence and not isinstance(evidence[key], list):
            found.append(f"{key} must be a list")
    for cert in evidence.get("certificates") or []:
        if not isinstance(cert, Mapping) or not (cert.get("file") or cert.get("role") or cert.get("path")):
            found.append("each certificate needs a file or role")
        elif not all(k in cert for k in ("subject", "serial", "not_after")):
            found.append(
                f"certificate {cert.get('file') or cert.get('role') or cert.get('path')} needs subject, serial, not_after"
            )
    for item in evidence.get("rotation") or []:
        if not isinstance(item, Mapping) or "kind" not in item or "ok" not in item:
            found.append("each rotation entry needs kind and ok")
    if "PRIVATE KEY" in repr(evidence):
        found.append("evidence holds private key material")
    return found
