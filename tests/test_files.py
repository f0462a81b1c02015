"""runbook.files: private-from-the-first-byte atomic writes, all-or-nothing sets, backups."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from runbook import files


def test_private_file_mode_and_content(tmp_path: Path) -> None:
    target = files.write_file(tmp_path / "k.key", b"secret", files.PRIVATE)
    assert target.read_bytes() == b"secret"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_replacing_is_atomic_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a.crt"
    files.write_file(target, b"one")
    files.write_file(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.crt"]


def test_write_all_is_all_or_nothing(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be")
    plan = [
        files.PlannedWrite(tmp_path / "first.crt", b"1"),
        files.PlannedWrite(tmp_path / "blocker" / "second.key", b"2", files.PRIVATE),
    ]
    with pytest.raises(OSError):
        files.write_all(plan)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_backup_and_restore_byte_for_byte(tmp_path: Path) -> None:
    root = tmp_path / "pki"
    files.write_all(
        [
            files.PlannedWrite(root / "a.crt", b"A"),
            files.PlannedWrite(root / "sub" / "b.key", b"B", files.PRIVATE),
        ]
    )
    backup = files.backup([root / "a.crt", root / "sub" / "b.key", root / "missing"], root)
    assert backup is not None and backup.parent == root / "backups"
    assert (backup / "a.crt").read_bytes() == b"A"
    assert stat.S_IMODE((backup / "sub" / "b.key").stat().st_mode) == 0o600
    files.write_file(root / "a.crt", b"changed")
    (root / "sub" / "b.key").unlink()
    files.restore(backup, root)
    assert (root / "a.crt").read_bytes() == b"A" and (root / "sub" / "b.key").read_bytes() == b"B"
    second = files.backup([root / "a.crt"], root)
    assert second is not None and second != backup


def test_backup_of_nothing(tmp_path: Path) -> None:
    assert files.backup([tmp_path / "nope"], tmp_path) is None
    assert not (tmp_path / "backups").exists()


def test_utc_stamp_format() -> None:
    assert files.utc_stamp(0) == "19700101T000000Z"


def test_prometheus_textfile_is_written_whole_and_refuses_a_missing_directory(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry, Gauge
    from prometheus_client.parser import text_string_to_metric_families

    from runbook.errors import RunbookError

    registry = CollectorRegistry()
    Gauge("redis_tls_example", "an example gauge", ["target"], registry=registry).labels("h:1").set(2)
    missing = tmp_path / "no-such-dir" / "redis.prom"
    with pytest.raises(RunbookError, match="does not exist: create it or give another --prometheus"):
        files.write_prometheus_textfile(registry, missing)
    assert not missing.parent.exists()
    written = files.write_prometheus_textfile(registry, tmp_path / "redis.prom")
    assert written.stat().st_mode & 0o777 == 0o644
    assert list(tmp_path.iterdir()) == [written]  # no temp file left beside it
    samples = [s for fam in text_string_to_metric_families(written.read_text()) for s in fam.samples]
    assert [(s.name, s.labels, s.value) for s in samples] == [("redis_tls_example", {"target": "h:1"}, 2.0)]
