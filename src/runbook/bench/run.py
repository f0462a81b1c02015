"""One benchmark run: start the servers, take every measurement of a profile, stop the servers."""

from __future__ import annotations

import itertools
import os
import ssl
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from runbook import sandbox, workdir
from runbook.bench.comparison import measure_comparison
from runbook.bench.handshakes import measure_handshakes, measure_resumption
from runbook.bench.pooling import measure_pooling
from runbook.bench.profiles import Profile, profile
from runbook.bench.report import BenchReport
from runbook.bench.servers import bench_servers
from runbook.bench.settings import GUIDE_KEY, KEY_TYPES, PROTOCOLS, RUNBOOK_KEY
from runbook.bench.throughput import measure_throughput, redis_benchmark_binary


def measure(
    work: Path | str | None = None, prof: Profile | str = "quick", *, progress: bool | None = None
) -> BenchReport:
    """Run every measurement of ``prof`` and return the report.

    Starts loopback redis-servers under ``<work>/bench/run/`` and stops them before returning;
    writes the benchmark's PKIs under ``<work>/bench/pki/`` (kept and reused: RSA-4096 keys are
    slow to generate). Progress bars go to stderr (default: when stderr is a terminal).
    """
    from tqdm import tqdm

    chosen = profile(prof) if isinstance(prof, str) else prof
    wd = workdir.work_dir(work)
    redis_benchmark_binary()
    version = ".".join(map(str, sandbox.redis_server_version()))
    report = BenchReport(chosen.name, version, ssl.OPENSSL_VERSION, os.cpu_count() or 0)
    start = time.perf_counter()
    with bench_servers(wd) as servers:
        report.timings["start servers"] = round(time.perf_counter() - start, 3)
        runbook, guide = servers.tls[RUNBOOK_KEY], servers.tls[GUIDE_KEY]
        steps: list[tuple[str, Callable[[], Any], list[Any]]] = []
        run: Callable[[], Any]
        for test, clients, pipeline in itertools.product(chosen.tests, chosen.clients, chosen.pipelines):
            for transport, target in (("plaintext", servers.plaintext), ("tls", runbook)):
                run = partial(measure_throughput, target, transport, test, clients, pipeline, chosen)
                steps.append((f"{transport} {test} c={clients} P={pipeline}", run, report.throughput))
        for kt in KEY_TYPES:
            run = partial(measure_handshakes, servers.tls[kt], kt, chosen)
            steps.append((f"handshakes {kt}", run, report.handshakes))
        series = (
            (RUNBOOK_KEY, True, runbook),
            (GUIDE_KEY, True, guide),
            (RUNBOOK_KEY, False, servers.no_cache),
        )
        for (kt, caching, target), protocol in itertools.product(series, PROTOCOLS):
            run = partial(measure_resumption, target, kt, caching, protocol, chosen)
            steps.append((f"resumption {kt} caching={caching} {protocol}", run, report.resumption))
        steps.append(("pooling", partial(measure_pooling, runbook, RUNBOOK_KEY, chosen), report.pooling))
        steps.append(
            ("runbook vs guide", partial(measure_comparison, servers, chosen, report), report.comparison)
        )
        show = sys.stderr.isatty() if progress is None else progress
        with tqdm(
            total=len(steps), desc=f"bench ({chosen.name})", disable=not show, file=sys.stderr, leave=False
        ) as bar:
            for label, step, into in steps:
                bar.set_postfix_str(label)
                began = time.perf_counter()
                found = step()
                report.timings[label] = round(time.perf_counter() - began, 3)
                into.extend(found if isinstance(found, list) else [found])
                bar.update(1)
    report.seconds = time.perf_counter() - start
    return report
