"""One set of connection option names on every command, and the old spellings for one release.

Every command that connects to Redis names the connection ``--host --port --server-name --ca --cert
--key``. The spellings of the previous release (``run --redis-host/--redis-port/--ca-file/
--client-cert/--client-key``, ``rotate --server-hostname``) still parse to the same values, print one
deprecation line on stderr naming the new spelling, and are hidden from ``--help`` (docs/cli.md shows
only the new ones). ``rotate --cert/--key`` named the new certificate before; they now name the
connection identity as everywhere (issue 17), so the old use is refused with one line naming
``--new-cert/--new-key`` instead of being read two ways.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from pipeline_runs import DATA
from runbook import cli

PARSER = cli.build_parser()
ONE_SET = {"--host", "--port", "--server-name", "--ca", "--cert", "--key"}
#: command -> {old spelling: new spelling}
RENAMED = {
    "run": {
        "--redis-host": "--host",
        "--redis-port": "--port",
        "--ca-file": "--ca",
        "--client-cert": "--cert",
        "--client-key": "--key",
    },
    "rotate": {"--server-hostname": "--server-name"},
}
#: spellings of a connection setting that no command may show
OTHER_SPELLINGS = {
    "--redis-host",
    "--redis-port",
    "--ca-file",
    "--ca-cert",
    "--cacert",
    "--client-cert",
    "--client-key",
    "--server-hostname",
    "--sni",
    "--tls-cert",
    "--tls-key",
}


def _leaves(parser: argparse.ArgumentParser, path: str = "") -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(_leaves(sub, f"{path} {name}".strip()) or {f"{path} {name}".strip(): sub})
    return found


LEAVES = _leaves(PARSER)


def _visible(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions if a.help != argparse.SUPPRESS for s in a.option_strings}


def _hidden(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions if a.help == argparse.SUPPRESS for s in a.option_strings}


@pytest.mark.parametrize("command", sorted(LEAVES))
def test_every_command_shows_only_the_one_set(command: str) -> None:
    visible = _visible(LEAVES[command])
    assert not visible & OTHER_SPELLINGS, f"{command}: rename {sorted(visible & OTHER_SPELLINGS)}"
    if "--port" in visible:  # a command that connects names the whole connection the one way
        assert {"--host", "--port", "--server-name"} <= visible, command
    hidden = _hidden(LEAVES[command])
    assert hidden == set(RENAMED.get(command.split()[0], {})), f"{command}: hidden options {sorted(hidden)}"


def test_run_and_check_and_watch_and_diagnose_take_the_whole_set() -> None:
    for command in ("run", "check", "watch", "diagnose", "rotate"):
        assert _visible(LEAVES[command]) >= ONE_SET, command


def test_help_shows_the_new_names_only(capsys: pytest.CaptureFixture[str]) -> None:
    for command, renamed in RENAMED.items():
        with pytest.raises(SystemExit):
            PARSER.parse_args([command, "--help"])
        text = capsys.readouterr().out
        for old, new in renamed.items():
            assert new in text, f"{command} --help lacks {new}"
            if old not in ONE_SET:
                assert old not in text, f"{command} --help shows the deprecated {old}"


RUN_OLD = ["--redis-host", "h", "--redis-port", "6380", "--ca-file", "ca.crt", "--client-cert", "c.crt"]
RUN_NEW = ["--host", "h", "--port", "6380", "--ca", "ca.crt", "--cert", "c.crt"]
ROTATE = ["rotate", "server", "--dir", "d", "--host", "127.0.0.1", "--port", "1"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (["run", *RUN_OLD, "--client-key", "c.key"], ["run", *RUN_NEW, "--key", "c.key"]),
        (
            [*ROTATE, "--server-hostname", "n", "--new-cert", "x.crt", "--new-key", "x.key"],
            [*ROTATE, "--server-name", "n", "--new-cert", "x.crt", "--new-key", "x.key"],
        ),
    ],
    ids=["run", "rotate"],
)
def test_old_spellings_parse_to_the_same_values_with_one_note_each(
    old: list[str], new: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    parsed_new = vars(PARSER.parse_args(new))
    assert capsys.readouterr().err == "", "the new spellings print nothing"
    parsed_old = vars(PARSER.parse_args(old))
    err = capsys.readouterr().err.splitlines()
    assert {k: v for k, v in parsed_old.items() if k != "func"} == {
        k: v for k, v in parsed_new.items() if k != "func"
    }
    renamed = RENAMED[old[0]]
    used = [a for a in old if a.startswith("--") and a in renamed]
    assert len(err) == len(used), err
    for line, flag in zip(err, used, strict=True):
        assert f"{flag} is deprecated" in line and f"use {renamed[flag]}" in line, line
    assert parsed_old.get("port", 0) in (6380, 1) and isinstance(parsed_old["port"], int), "types are kept"


def test_rotate_cert_key_of_the_old_meaning_is_one_line_naming_new_cert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["rotate", "server", "--dir", str(tmp_path), "--host", "127.0.0.1", "--port", "1"]
    assert cli.main([*argv, "--cert", "x.crt", "--key", "x.key"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--new-cert/--new-key" in err[0] and "--ca" in err[0], err


def test_run_with_an_old_spelling_reaches_the_same_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end through main(): the deprecated option feeds the same validation as the new one."""
    base = ["run", "--notebooks-dir", str(DATA / "probe"), "--work-dir", str(tmp_path / "w")]
    assert cli.main([*base, "--host", "x"]) == 2
    new_err = capsys.readouterr().err.splitlines()
    assert cli.main([*base, "--redis-host", "x"]) == 2
    old_err = capsys.readouterr().err.splitlines()
    assert old_err[0].endswith(
        "--redis-host is deprecated and will be removed in the next release: use --host"
    )
    assert old_err[1:] == new_err and "redis_host (--host) only apply to --target external" in new_err[0]
    assert not (tmp_path / "w" / "summaries").exists(), "nothing ran"
