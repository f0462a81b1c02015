"""Inventories: the runbook's own fleet YAML and Ansible inventories (YAML and INI) -> ``list[FleetNode]``.

Operators already keep a list of their Redis servers, usually as an Ansible inventory. This
module reads it into plain :class:`FleetNode` records (where to connect, the name in the
certificate, the role and replication group, the client files, the PKI folder for rotation) and
rejects a bad one with one line naming the host and the field (:class:`RunbookError`, CLI exit 2).

Formats (auto-detected; schema and variables in docs/fleet.md):

* the runbook's YAML: a mapping with ``nodes:`` (a list) and optional ``defaults:``;
* Ansible YAML: groups with ``hosts``, ``children`` and ``vars`` (the top level is ``all:``);
* Ansible INI: ``[group]`` host lines with ``key=value`` vars, ``[group:children]``, ``[group:vars]``.

The Ansible formats are read here rather than through ansible-core's ``InventoryManager``:
ansible-core is GPL-3.0 (this package is Apache-2.0), takes about a second to import, and reads
``ansible.cfg`` and ``~/.ansible`` as a side effect; the runbook needs the documented subset only.
The tests cross-check this reader against ``ansible-inventory --list`` from ansible-core.
Relative file paths are relative to the inventory file's folder. Reads files only.
"""

from __future__ import annotations

import ast
import fnmatch
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runbook.client import Endpoint, TlsClientFiles, address
from runbook.errors import RunbookError

#: Roles a node may have; ``role`` decides the order of a rolling rotation inside its group.
ROLES: tuple[str, ...] = (
    "standalone",
    "primary",
    "replica",
    "cluster-primary",
    "cluster-replica",
    "sentinel",
)
_ROLE_ALIASES = {"master": "primary", "slave": "replica", "cluster": "cluster-primary"}
#: Ansible host variables the runbook reads, and the field each one fills.
ANSIBLE_VARS: dict[str, str] = {
    "ansible_host": "host",
    "redis_port": "port",
    "redis_server_name": "server_name",
    "redis_role": "role",
    "redis_group": "group",
    "redis_tls_ca": "ca",
    "redis_tls_cert": "cert",
    "redis_tls_key": "key",
    "redis_pki_dir": "pki_dir",
}
#: Keys of one node in the runbook's YAML (and of its ``defaults:``).
NODE_KEYS: tuple[str, ...] = (
    "name",
    "host",
    "port",
    "server_name",
    "role",
    "group",
    "ca",
    "cert",
    "key",
    "pki_dir",
)
_FILE_FIELDS = ("ca", "cert", "key")
_TEMPLATE = re.compile(r"\{\{|\{%")


@dataclass(frozen=True)
class FleetNode:
    """One Redis node of an inventory: its :class:`~runbook.client.Endpoint` (inventory name, host,
    port, server name, the client files to reach it) and its place in the fleet: role, replication
    group, the groups it belongs to, and the PKI folder that issues for it."""

    endpoint: Endpoint
    role: str = "standalone"
    group: str = ""
    pki_dir: str = ""
    groups: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The inventory host name."""
        return self.endpoint.name

    @property
    def target(self) -> str:
        """The endpoint's address (IPv6 in brackets): the ``target`` label of Prometheus series."""
        return self.endpoint.address


@dataclass
class Inventory:
    """The nodes of an inventory file, in file order, and the groups it defines."""

    path: str
    format: str  # runbook | ansible-yaml | ansible-ini
    nodes: list[FleetNode] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)

    def limit(self, pattern: str | None) -> list[FleetNode]:
        """The nodes ``pattern`` selects (see :func:`select`)."""
        return select(self.nodes, pattern)


# --------------------------------------------------------------------------- entry point


def load(path: Path | str, fmt: str = "auto") -> Inventory:
    """Read an inventory file. ``fmt``: auto, runbook, ansible-yaml or ansible-ini. Reads files."""
    source = Path(path)
    if not source.is_file():
        raise RunbookError(f"inventory {source} not found: pass an existing file with --inventory")
    try:
        text = source.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise RunbookError(
            f"inventory {source} cannot be read ({exc.__class__.__name__}): fix its permissions"
        ) from None
    chosen = fmt if fmt != "auto" else _detect(source, text)
    if chosen == "runbook":
        raw, groups = _runbook_nodes(_yaml(source, text), source)
    elif chosen == "ansible-yaml":
        raw, groups = _ansible_hosts(_ansible_yaml_groups(_yaml(source, text), source), source)
    elif chosen == "ansible-ini":
        raw, groups = _ansible_hosts(_ansible_ini_groups(text, source), source)
    else:
        raise RunbookError(
            f"unknown inventory format {fmt!r}: choose auto, runbook, ansible-yaml or ansible-ini"
        )
    nodes = [_node(source, name, values, member_of) for name, values, member_of in raw]
    if not nodes:
        raise RunbookError(f"inventory {source} lists no host: add at least one node")
    _check_duplicates(source, nodes)
    return Inventory(str(source), chosen, nodes, groups)


def _detect(source: Path, text: str) -> str:
    yaml_suffix = source.suffix.lower() in (".yml", ".yaml", ".json")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        if yaml_suffix:
            _yaml(source, text)  # raises with the line
        return "ansible-ini"
    if isinstance(data, dict):
        return "runbook" if "nodes" in data else "ansible-yaml"
    return "ansible-ini"


def _yaml(source: Path, text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise RunbookError(f"inventory {source} is not valid YAML{where}: fix the syntax") from None
    if not isinstance(data, dict):
        raise RunbookError(f"inventory {source} must be a YAML mapping (nodes: or all:)")
    return data


# --------------------------------------------------------------------------- the runbook's YAML

_Raw = tuple[str, dict[str, Any], tuple[str, ...]]


def _runbook_nodes(data: dict[str, Any], source: Path) -> tuple[list[_Raw], list[str]]:
    unknown = sorted(set(data) - {"nodes", "defaults", "version"})
    if unknown:
        raise RunbookError(
            f"inventory {source}: unknown top-level key {unknown[0]!r}: use nodes: and defaults:"
        )
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise RunbookError(f"inventory {source}: defaults: must be a mapping of node keys")
    _check_keys(source, "defaults", defaults)
    entries = data.get("nodes")
    if not isinstance(entries, list):
        raise RunbookError(f"inventory {source}: nodes: must be a list of nodes (host, port, ...)")
    raw: list[_Raw] = []
    groups: list[str] = []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise RunbookError(f"inventory {source}: node {i} must be a mapping (host: ..., port: ...)")
        label = str(entry.get("name") or entry.get("host") or f"#{i}")
        _check_keys(source, label, entry)
        values = {**defaults, **entry}
        if not values.get("host"):
            raise RunbookError(f"inventory {source}: node {label}: missing host: give its address")
        name = str(values.get("name") or _address(str(values["host"]), values.get("port")))
        group = str(values.get("group") or "")
        if group and group not in groups:
            groups.append(group)
        raw.append((name, values, ("all", group) if group else ("all",)))
    return raw, ["all", *groups]


def _check_keys(source: Path, label: str, entry: Mapping[str, Any]) -> None:
    for key in entry:
        if key not in NODE_KEYS:
            raise RunbookError(
                f"inventory {source}: node {label}: unknown key {key!r}: use {', '.join(NODE_KEYS)}"
            )


def _address(host: str, port: Any) -> str:
    """A node's default name: its address (``host`` alone while the port is not given)."""
    if port is None or port == "":
        return host
    return address(host.strip("[]"), port)


# --------------------------------------------------------------------------- Ansible


@dataclass
class _Group:
    name: str
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)  # host -> vars set in this group
    children: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)


def _group(groups: dict[str, _Group], name: str) -> _Group:
    if name not in groups:
        groups[name] = _Group(name)
    return groups[name]


def _ansible_yaml_groups(data: dict[str, Any], source: Path) -> dict[str, _Group]:
    groups: dict[str, _Group] = {"all": _Group("all")}

    def walk(name: str, body: Any, parent: str | None) -> None:
        group = _group(groups, name)
        if parent is not None and name not in groups[parent].children:
            groups[parent].children.append(name)
        if body is None:
            return
        if not isinstance(body, dict):
            raise RunbookError(
                f"inventory {source}: group {name} must be a mapping (hosts:, children:, vars:)"
            )
        for key in body:
            if key not in ("hosts", "children", "vars"):
                raise RunbookError(
                    f"inventory {source}: group {name}: unknown key {key!r}: use hosts:, children:, vars:"
                )
        for host, host_vars in (body.get("hosts") or {}).items():
            if host_vars is not None and not isinstance(host_vars, dict):
                raise RunbookError(f"inventory {source}: host {host}: its vars must be a mapping")
            group.hosts.setdefault(str(host), {}).update(host_vars or {})
        if body.get("vars") is not None and not isinstance(body["vars"], dict):
            raise RunbookError(f"inventory {source}: group {name}: vars: must be a mapping")
        group.vars.update(body.get("vars") or {})
        for child, child_body in (body.get("children") or {}).items():
            walk(str(child), child_body, name)

    for name, body in data.items():
        walk(str(name), body, None if name == "all" else "all")
    return groups


def _ansible_ini_groups(text: str, source: Path) -> dict[str, _Group]:
    groups: dict[str, _Group] = {"all": _Group("all"), "ungrouped": _Group("ungrouped")}
    groups["all"].children.append("ungrouped")
    section, kind = "ungrouped", "hosts"
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        header = re.fullmatch(r"\[([^\]:]+)(?::(\w+))?\]", stripped)
        if header:
            section, kind = header.group(1), header.group(2) or "hosts"
            if kind not in ("hosts", "children", "vars"):
                raise RunbookError(
                    f"inventory {source} line {number}: unknown section [{section}:{kind}]: use :children or :vars"
                )
            _group(groups, section)
            if section != "all" and section not in groups["all"].children:
                groups["all"].children.append(section)
            continue
        try:
            words = shlex.split(stripped, comments=True)
        except ValueError as exc:
            raise RunbookError(f"inventory {source} line {number}: {exc}: fix the quoting") from None
        if not words:
            continue
        if kind == "children":
            _group(groups, words[0])
            if words[0] not in groups[section].children:
                groups[section].children.append(words[0])
        elif kind == "vars":
            key, sep, value = stripped.partition("=")
            if not sep:
                raise RunbookError(f"inventory {source} line {number}: [{section}:vars] needs key=value")
            groups[section].vars[key.strip()] = value.strip().strip("'\"")  # :vars values stay strings
        else:
            groups[section].hosts.setdefault(words[0], {}).update(_ini_host_vars(words[1:], source, number))
    for name in groups:  # a group that is someone's child is not a child of all
        nested = any(name in g.children for g in groups.values() if g.name != "all")
        if name != "all" and nested and name in groups["all"].children:
            groups["all"].children.remove(name)
    if not groups["ungrouped"].hosts:
        groups["all"].children.remove("ungrouped")
        del groups["ungrouped"]
    return groups


def _ini_host_vars(words: Sequence[str], source: Path, number: int) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise RunbookError(f"inventory {source} line {number}: {word!r} is not key=value")
        try:
            found[key] = ast.literal_eval(value)  # host-line values are Python literals in Ansible
        except (ValueError, SyntaxError):
            found[key] = value
    return found


def _ansible_hosts(groups: dict[str, _Group], source: Path) -> tuple[list[_Raw], list[str]]:
    """Every host with its merged vars: all < parents < children (same depth: by name) < host vars."""
    depth: dict[str, int] = {"all": 0}
    order = ["all"]
    frontier = ["all"]
    while frontier:
        nxt: list[str] = []
        for name in frontier:
            for child in groups[name].children:
                if child not in depth:
                    depth[child] = depth[name] + 1
                    order.append(child)
                    nxt.append(child)
                elif depth[child] <= depth[name]:
                    depth[child] = depth[name] + 1
        frontier = nxt
        if len(order) > len(groups) + 1:
            raise RunbookError(f"inventory {source}: groups are children of each other: break the loop")
    members: dict[str, set[str]] = {}
    for name in groups:
        _members(groups, name, members, set(), source)
    host_order: list[str] = []
    for name in order:
        for host in groups[name].hosts:
            if host not in host_order:
                host_order.append(host)
    raw: list[_Raw] = []
    for host in host_order:
        in_groups = sorted(
            (g for g, hosts in members.items() if host in hosts), key=lambda g: (depth.get(g, 0), g)
        )
        values: dict[str, Any] = {}
        for g in in_groups:
            values.update(groups[g].vars)
        for g in in_groups:
            values.update(groups[g].hosts.get(host, {}))
        fields = {ANSIBLE_VARS[k]: v for k, v in values.items() if k in ANSIBLE_VARS}
        for k, v in fields.items():
            if isinstance(v, str) and _TEMPLATE.search(v):
                var = next(a for a, f in ANSIBLE_VARS.items() if f == k)
                raise RunbookError(
                    f"inventory {source}: host {host}: {var} is a Jinja template: give a literal value"
                )
        raw.append((host, {"host": host, **fields, "_ansible": True}, tuple(in_groups)))
    return raw, order


def _members(
    groups: dict[str, _Group], name: str, cache: dict[str, set[str]], seen: set[str], source: Path
) -> set[str]:
    if name in cache:
        return cache[name]
    if name in seen:
        raise RunbookError(f"inventory {source}: group {name} is its own descendant: break the loop")
    seen = seen | {name}
    hosts = set(groups[name].hosts)
    for child in groups[name].children:
        hosts |= _members(groups, child, cache, seen, source)
    cache[name] = hosts
    return hosts


# --------------------------------------------------------------------------- validation


def _field_name(values: Mapping[str, Any], key: str) -> str:
    if values.get("_ansible"):
        return next(a for a, f in ANSIBLE_VARS.items() if f == key)
    return key


def _node(source: Path, name: str, values: dict[str, Any], member_of: tuple[str, ...]) -> FleetNode:
    def fail(key: str, problem: str, fix: str) -> RunbookError:
        return RunbookError(f"inventory {source}: host {name}: {_field_name(values, key)} {problem}: {fix}")

    port_value = values.get("port")
    if port_value is None or port_value == "":
        raise fail("port", "is missing", "give the server's TLS port, e.g. 6380")
    try:
        port = int(str(port_value).strip())
    except ValueError:
        raise fail(
            "port", f"{port_value!r} is not an integer", "give the TLS port as a number, e.g. 6380"
        ) from None
    if isinstance(port_value, bool | float) or not 0 < port < 65536:
        raise fail("port", f"{port_value!r} is out of range", "give a TLS port between 1 and 65535")
    role = _ROLE_ALIASES.get(str(values.get("role") or "standalone"), str(values.get("role") or "standalone"))
    if role not in ROLES:
        raise fail("role", f"{values.get('role')!r} is unknown", f"choose one of {', '.join(ROLES)}")
    paths = {k: _path(source, values.get(k)) for k in (*_FILE_FIELDS, "pki_dir")}
    if not paths["ca"]:
        raise fail("ca", "is missing", "give the CA certificate (PEM) that signed the server's certificate")
    if bool(paths["cert"]) != bool(paths["key"]):
        missing = "key" if paths["cert"] else "cert"
        raise fail(missing, "is missing", "give the client certificate and its key together (or neither)")
    for key in _FILE_FIELDS:
        if paths[key] and not os.path.lexists(paths[key]):
            raise fail(
                key,
                f"file {paths[key]} does not exist",
                "correct the path (relative paths: the inventory's folder)",
            )
    host = str(values["host"]).strip("[]")
    files = TlsClientFiles(paths["ca"], paths["cert"] or None, paths["key"] or None)
    return FleetNode(
        Endpoint(host, port, str(values.get("server_name") or host), files, name),
        role=role,
        group=str(values.get("group") or name),
        pki_dir=paths["pki_dir"],
        groups=member_of,
    )


def _path(source: Path, value: Any) -> str:
    if value is None or value == "":
        return ""
    p = Path(str(value)).expanduser()
    return os.path.abspath(p if p.is_absolute() else source.parent / p)  # links kept: they are checked later


def _check_duplicates(source: Path, nodes: Sequence[FleetNode]) -> None:
    seen: dict[str, str] = {}
    names: set[str] = set()
    for node in nodes:
        if node.name in names:
            raise RunbookError(
                f"inventory {source}: host {node.name} is listed twice: give each node one entry"
            )
        names.add(node.name)
        if node.target in seen:
            raise RunbookError(
                f"inventory {source}: hosts {seen[node.target]} and {node.name} are both {node.target}: "
                "duplicate host:port entries, remove one"
            )
        seen[node.target] = node.name


# --------------------------------------------------------------------------- --limit


def select(nodes: Sequence[FleetNode], pattern: str | None) -> list[FleetNode]:
    """Ansible-style ``--limit``: comma-separated host names, group names or globs of either.

    ``!pat`` excludes, ``&pat`` keeps only nodes also matching ``pat``, ``~regex`` matches names by
    regular expression. Without plain patterns everything is the start. A pattern that matches
    no host or group is an error (a typo must not turn into "nothing to do").
    """
    if pattern is None or not pattern.strip():
        return list(nodes)
    parts = [p.strip() for p in pattern.split(",") if p.strip()]
    plain = [p for p in parts if p[0] not in "!&"]
    chosen = [n for n in nodes if any(_matches(n, p) for p in plain)] if plain else list(nodes)
    for p in parts:
        if p[0] == "&":
            chosen = [n for n in chosen if _matches(n, p[1:])]
        elif p[0] == "!":
            chosen = [n for n in chosen if not _matches(n, p[1:])]
    for p in parts:
        bare = p.lstrip("!&")
        if not any(_matches(n, bare) for n in nodes):
            raise RunbookError(
                f"--limit {bare!r} matches no host or group: hosts are {', '.join(n.name for n in nodes[:8])}"
                + (", ..." if len(nodes) > 8 else "")
            )
    if not chosen:
        raise RunbookError(f"--limit {pattern!r} leaves no host: loosen the pattern")
    return chosen


def _matches(node: FleetNode, pattern: str) -> bool:
    if pattern.startswith("~"):
        try:
            regex = re.compile(pattern[1:])
        except re.error as exc:
            raise RunbookError(f"--limit {pattern!r} is not a valid regular expression ({exc})") from None
        return bool(regex.search(node.name)) or any(regex.search(g) for g in node.groups)
    if pattern in ("all", "*"):
        return True
    names = [node.name, node.endpoint.host, node.target]
    if any(fnmatch.fnmatchcase(n, pattern) for n in names):
        return True
    return any(fnmatch.fnmatchcase(g, pattern) for g in node.groups)
