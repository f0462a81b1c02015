"""The deployment examples of ``runbook watch`` use the real command line: every flag they pass is
parsed by the real parser (a renamed or removed flag fails here), and docs/watch.md names only
real flags."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest
import yaml

from runbook import cli
from runbook.cli import watch as watch_cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "watch"


def _exec_start(unit: Path) -> list[str]:
    text = unit.read_text().replace("\\\n", " ")
    (line,) = [ln for ln in text.splitlines() if ln.startswith("ExecStart=")]
    argv = shlex.split(line.removeprefix("ExecStart="))
    assert argv[1:4] == ["-m", "runbook", "watch"], argv
    return argv[3:]


def _parse(argv: list[str]) -> argparse.Namespace:
    args = cli.build_parser().parse_args(argv)
    assert args.func is watch_cli.cmd_watch
    return args


@pytest.mark.parametrize("unit", ["redis-tls-watch.service", "redis-tls-watch-once.service"])
def test_systemd_units_parse(unit: str) -> None:
    args = _parse(_exec_start(EXAMPLES / unit))
    assert args.once == unit.endswith("-once.service")
    assert args.state_dir == "/var/lib/redis-tls-watch" and args.prometheus
    text = (EXAMPLES / unit).read_text()
    assert "StateDirectory=redis-tls-watch" in text
    if not args.once:
        assert "KillSignal=SIGTERM" in text and "RestartPreventExitStatus=2" in text


def test_timer_starts_the_oneshot() -> None:
    timer = (EXAMPLES / "redis-tls-watch-once.timer").read_text()
    assert "OnUnitActiveSec=" in timer and "[Install]" in timer
    assert "Type=oneshot" in (EXAMPLES / "redis-tls-watch-once.service").read_text()


def test_kubernetes_sidecar_parses_and_shares_the_volumes() -> None:
    docs = list(yaml.safe_load_all((EXAMPLES / "kubernetes-sidecar.yaml").read_text()))
    (sts,) = [d for d in docs if d["kind"] == "StatefulSet"]
    spec = sts["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in spec["containers"]}
    watcher, redis = containers["tls-watch"], containers["redis"]
    assert watcher["command"][-3:] == ["-m", "runbook", "watch"]
    args = _parse(["watch", *watcher["args"]])
    mounts = {m["name"]: m["mountPath"] for m in watcher["volumeMounts"]}
    redis_mounts = {m["name"]: m["mountPath"] for m in redis["volumeMounts"]}
    # the same secret at the same path in both containers (the paths Redis reports are watched)
    assert mounts["tls"] == redis_mounts["tls"] and args.ca.startswith(mounts["tls"])
    redis_args = redis["args"]
    assert redis_args[redis_args.index("--tls-cert-file") + 1].startswith(mounts["tls"])
    # the rollback copies are readable by Redis at the path the watcher writes them
    assert mounts["watch-state"] == redis_mounts["watch-state"] == args.state_dir
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "secret" in volumes["tls"] and "emptyDir" in volumes["watch-state"]
    assert (
        args.server_name in next(d for d in docs if d["metadata"]["name"] == "redis-tls")["spec"]["dnsNames"]
    )


def test_docs_name_only_real_flags() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    fleet_sub = next(a for a in sub.choices["fleet"]._actions if isinstance(a, argparse._SubParsersAction))
    commands = [sub.choices["watch"], fleet_sub.choices["watch"]]  # watch.md names `fleet watch` too
    real = {o for p in commands for a in p._actions for o in a.option_strings}
    # watch.md may name a flag of the command a warning's fix points to (rotate, adopt): it must exist there
    real |= {o for name in ("rotate", "adopt") for o in _options(sub.choices[name])}
    text = (ROOT / "docs" / "watch.md").read_text()
    used = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", text))
    assert used and used <= real | {"--nbval"}, sorted(used - real)
    assert watch_cli.SYNOPSIS in text


def _options(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of ``parser`` and of its subcommands."""
    found = {o for a in parser._actions for o in a.option_strings}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found |= _options(child)
    return found
