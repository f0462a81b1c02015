"""The docker backend: the local image, containers on the host network with the real version,
graceful stop leaving nothing behind, rotation of the files a container serves, compose.

Unit tests need nothing. Integration tests need a Docker engine (``DOCKER_HOST`` answering, e.g.
after ``eval "$(scripts/docker-engine.sh start)"``) and the local image (built once by
``runbook sandbox image build``, cached by its recipe stamp); they skip with the reason otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook import cli, files, pki, sandbox, workdir
from runbook.client import Endpoint, TlsClientFiles, probe
from runbook.errors import RunbookError
from runbook.sandbox.docker import grant_container_access
from runbook.sandbox.engine import docker_error

ROOT = Path(__file__).resolve().parents[1]
DOCKER_OK, DOCKER_WHY = sandbox.docker_available()
needs_engine = pytest.mark.skipif(
    not DOCKER_OK,
    reason=f'needs a Docker engine: {DOCKER_WHY}; start one: eval "$(scripts/docker-engine.sh start)"',
)


# --------------------------------------------------------------------------- unit: no engine needed


def test_run_args_host_network_identity_mounts_no_pull(tmp_path: Path) -> None:
    node_dir, pki_root = tmp_path / "sandbox" / "primary", tmp_path / "pki"
    args = sandbox.docker_run_args("n1", node_dir, pki_root, "img:1", "100:101")
    pki_path, node_path = str(pki_root.resolve()), str(node_dir.resolve())
    assert f"{pki_path}:{pki_path}:ro" in args and f"{node_path}:{node_path}" in args
    assert args[args.index("--network") + 1] == "host" and args[args.index("--pull") + 1] == "never"
    assert args[args.index("--user") + 1] == "100:101"
    assert "-p" not in args and "--publish" not in args
    assert args[-3:] == ["img:1", "redis-server", f"{node_path}/redis.conf"]


def test_errors_name_their_own_fix() -> None:
    engine = docker_error(
        ["info"], "Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?"
    )
    assert "scripts/docker-engine.sh start" in str(engine)
    image = docker_error(["run"], "Unable to find image 'nope:1' locally", "nope:1")
    assert "nope:1" in str(image) and "sandbox image build" in str(image)
    other = docker_error(["run"], "invalid reference format")
    assert "invalid reference format" in str(other) and "docker-engine.sh" not in str(other)
    for err in (engine, image, other):
        assert "\n" not in str(err)


def test_no_engine_is_told_apart(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    with pytest.raises(RunbookError, match=r"needs a Docker engine.*docker-engine.sh start"):
        sandbox.image_info("runbook-redis:bookworm")


def test_backend_from_env_and_never_a_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sandbox.BACKEND_ENV, raising=False)
    assert sandbox.resolve_backend() == "binary"
    monkeypatch.setenv(sandbox.BACKEND_ENV, "docker")
    assert sandbox.resolve_backend() == "docker" and sandbox.resolve_backend("binary") == "binary"
    monkeypatch.setenv(sandbox.BACKEND_ENV, "podman")
    with pytest.raises(RunbookError, match="unknown backend 'podman'"):
        sandbox.resolve_backend()


def test_apt_mirror_read_from_both_source_formats(tmp_path: Path) -> None:
    deb822 = tmp_path / "d"
    deb822.mkdir()
    (deb822 / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.invalid/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\nTypes: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n"
    )
    assert sandbox.apt_mirror((tmp_path / "absent.list", deb822)) == (
        "http://mirror.invalid/debian",
        "bookworm",
    )
    one_line = tmp_path / "sources.list"
    one_line.write_text("# comment\ndeb [arch=amd64] http://mirror.invalid/debian trixie main contrib\n")
    assert sandbox.apt_mirror((one_line,)) == ("http://mirror.invalid/debian", "trixie")
    with pytest.raises(RunbookError, match="no Debian"):
        sandbox.apt_mirror((tmp_path / "absent.list",))


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_replacement_keeps_the_owner_a_server_reads_it_as(tmp_path: Path) -> None:
    key = tmp_path / "redis-server.key"
    files.write_file(key, b"old", files.PRIVATE)
    os.chown(key, 100, 101)
    files.write_file(key, b"new", files.PRIVATE)
    st = key.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777, key.read_bytes()) == (100, 101, 0o600, b"new")


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_grant_gives_only_the_served_key(session_work: Path, tmp_path: Path) -> None:
    root = tmp_path / "pki"
    shutil.copytree(workdir.pki_dir(session_work), root)
    paths = pki.PkiPaths(root)
    node_dir = tmp_path / "node"
    node_dir.mkdir()
    (node_dir / "redis.conf").write_text("")
    grant_container_access(root, node_dir, [paths.server_key], 100, 101)
    assert paths.server_key.stat().st_uid == 100 and paths.server_key.stat().st_mode & 0o777 == 0o600
    assert paths.ca_key.stat().st_uid == 0 and (root / "redis-client.key").stat().st_uid == 0
    assert root.stat().st_mode & 0o777 == 0o710 and root.stat().st_gid == 101
    assert (node_dir / "redis.conf").stat().st_uid == 100


# --------------------------------------------------------------------------- integration


def _mounts_under(path: Path) -> list[str]:
    text = Path("/proc/self/mountinfo").read_text()
    return [line for line in text.splitlines() if str(path.resolve()) in line]


def _containers(label: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-a", "-q", "--filter", f"label=runbook.node={label}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def _images() -> list[str]:
    out = subprocess.run(["docker", "images", "-q"], capture_output=True, text=True, check=True)
    return sorted(out.stdout.split())


@pytest.fixture(scope="module")
def image() -> sandbox.ImageInfo:
    if not DOCKER_OK:
        pytest.skip(f"needs a Docker engine: {DOCKER_WHY}")
    started = time.monotonic()
    report = sandbox.build_image()
    print(f"image {report.info.image}: built={report.built} in {time.monotonic() - started:.1f} s")
    return report.info


@pytest.fixture
def docker_work(session_work: Path, tmp_path: Path) -> Iterator[Path]:
    work = tmp_path / "work"
    shutil.copytree(workdir.pki_dir(session_work), workdir.pki_dir(work))
    yield work
    sandbox.stop(work)


@needs_engine
@pytest.mark.integration
@pytest.mark.parametrize("topology", ["standalone", "replica", "cluster"])
def test_topology_runs_the_real_version_and_stop_leaves_nothing(
    image: sandbox.ImageInfo, docker_work: Path, topology: str, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    assert (
        cli.main(
            [
                "sandbox",
                "start",
                "--backend",
                "docker",
                "--topology",
                topology,
                "--work-dir",
                str(docker_work),
                "--json",
            ]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    print(f"docker {topology}: up in {time.monotonic() - started:.1f} s")
    box = sandbox.status(docker_work)
    assert box is not None and doc["healthy"] and doc["image"] == image.image
    assert doc["server_version"] == image.redis_version  # asked of the image, not its tag
    for node in box.nodes:
        assert node.container and node.host == "127.0.0.1"
        assert probe.server_version(node.endpoint.with_files(box.client_files())) == image.redis_version
    assert [r.id for r in sandbox.verify(box) if not r.ok] == []
    reload = dict(sandbox.reload_tls(box))
    assert all(r.rewritten for r in reload.values())  # CONFIG REWRITE works: the file is the container's
    stopped = time.monotonic()
    sandbox.stop(docker_work)
    print(f"docker {topology}: stopped in {time.monotonic() - stopped:.1f} s")
    for node in box.nodes:
        assert not sandbox.node_alive(node)
        assert _containers(str(Path(node.dir).resolve())) == []
        assert (Path(node.dir) / sandbox.CONTAINER_LOG).is_file()
        assert "ready to exit" in node.log_path.read_text()  # SIGTERM: Redis shut down by itself
    assert _mounts_under(docker_work) == []


@needs_engine
@pytest.mark.integration
def test_missing_image_is_one_line_and_never_pulled(
    image: sandbox.ImageInfo, docker_work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _images()
    monkeypatch.setenv(sandbox.IMAGE_ENV, "runbook-missing:none")
    with pytest.raises(RunbookError) as err:
        sandbox.start(docker_work, backend="docker")
    assert "runbook-missing:none" in str(err.value) and "sandbox image build" in str(err.value)
    assert "\n" not in str(err.value) and _images() == before
    assert sandbox.status(docker_work) is None


@needs_engine
@pytest.mark.integration
def test_image_build_is_cached_by_its_stamp(
    image: sandbox.ImageInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["sandbox", "image", "build", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (
        doc["built"] is False and doc["stamp"] == image.stamp and doc["redis_version"] == image.redis_version
    )
    assert doc["uid"] != 0 and doc["size"] > 10_000_000


@needs_engine
@pytest.mark.integration
def test_rotate_server_writes_the_host_files_the_container_serves(
    image: sandbox.ImageInfo, docker_work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    box = sandbox.start(docker_work, backend="docker")
    paths = pki.PkiPaths(workdir.pki_dir(docker_work))
    before = paths.server_cert.read_bytes()
    code = cli.main(
        [
            "rotate",
            "server",
            "--dir",
            str(paths.root),
            "--host",
            "127.0.0.1",
            "--port",
            str(box.primary.port),
            "--server-hostname",
            "localhost",
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert paths.server_cert.read_bytes() != before
    assert paths.server_key.stat().st_uid == image.uid  # the rotated key is still readable to the container
    from runbook.rotation import served_certificate

    served = served_certificate(
        "127.0.0.1", box.primary.port, TlsClientFiles.from_pki(paths.root), "localhost"
    )
    assert served == pki.load_cert(paths.server_cert)


@needs_engine
@pytest.mark.integration
def test_compose_up_healthy_over_mutual_tls_then_down(image: sandbox.ImageInfo, tmp_path: Path) -> None:
    if not shutil.which("docker-compose"):
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    work = tmp_path / "work"
    paths = pki.PkiPaths(workdir.pki_dir(work))
    pki.create_pki(paths.root, pki.PkiSpec(clients=["redis-client", "redis-health"]))
    assert (
        cli.main(["config", "render", "--dir", "/tls", "-o", str(work / "compose" / "redis-tls.conf")]) == 0
    )
    health_key = paths.root / "clients" / "redis-health.key"
    grant_container_access(
        paths.root, tmp_path / "unused", [paths.server_key, health_key], image.uid, image.gid
    )
    port = sandbox.free_port()
    env = {**os.environ, "RUNBOOK_WORK_DIR": str(work), "RUNBOOK_COMPOSE_PORT": str(port)}
    compose = ["docker-compose", "-f", str(ROOT / "compose.yaml"), "-p", f"rbt{port}"]
    subprocess.run([*compose, "up", "-d"], env=env, check=True, capture_output=True, text=True, timeout=120)
    try:
        name = f"rbt{port}_redis_1"
        deadline, health = time.monotonic() + 40, ""
        while time.monotonic() < deadline and health != "healthy":
            health = subprocess.run(
                ["docker", "inspect", "-f", "{{.State.Health.Status}}", name],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            time.sleep(0.5)
        assert health == "healthy"
        client = TlsClientFiles.from_pki(paths.root)
        assert probe.answers_ping(Endpoint("localhost", port, files=client))
        assert not probe.plaintext_ping(Endpoint("127.0.0.1", port)).ok
        networks = subprocess.run(
            ["docker", "network", "ls", "--format", "{{.Name}}"], capture_output=True, text=True, check=True
        ).stdout.split()
        assert sorted(networks) == ["host", "none"]  # no bridge network was created
    finally:
        subprocess.run([*compose, "down"], env=env, check=True, capture_output=True, timeout=120)
    assert _containers_named(f"rbt{port}_redis_1") == []


def _containers_named(name: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-a", "-q", "--filter", f"name={name}"], capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_run_backend_docker_without_engine_stops_before_any_kernel(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    monkeypatch.delenv(sandbox.BACKEND_ENV, raising=False)
    code = cli.main(
        ["run", "--backend", "docker", "--work-dir", str(tmp_path / "w"), "--output-dir", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert code == 2 and "docker-engine.sh start" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() and sandbox.BACKEND_ENV not in os.environ
