"""What TLS costs, measured: plaintext vs TLS, handshake cost, session resumption, pooling.

:func:`measure` starts its own loopback servers (a plaintext one and TLS ones that differ from it
only by TLS; one TLS server per certificate key type; one with ``tls-session-caching no``), runs
every measurement bounded by a count and a time limit, stops the servers and returns a
:class:`BenchReport` that renders as tables, serialises to JSON and plots with matplotlib.

Two kinds of figures are reported side by side:

* **client-observed rates** (requests or connections per second, as ``redis-benchmark`` or a Python
  client sees them): what an application feels, but on a shared machine they also measure the
  neighbours;
* **server CPU per operation** (from the kernel's per-thread run-time accounting of the
  ``redis-server`` process): the work TLS adds on the server, much less sensitive to other load.
  Verdicts use it where it exists (Linux) and fall back to the rates elsewhere.

"Runbook settings" and "guide settings" (the comparison) are defined in :data:`RUNBOOK_SETTINGS`
and :data:`GUIDE_SETTINGS`; both servers share every directive except the certificates. Each side's
redis-py client is built as that side builds it (:func:`new_client`): the runbook's with
``runbook.client`` (``ContextSSLConnection``), the guide's with ``redis.Redis(ssl=True, ssl_*=...)``
(redis-py's ``SSLConnection``, a new context and the system trust store per connect).

The modules, lowest first (each imports only those above it):

* ``settings``: key types, TLS versions, the runbook's and the guide's settings;
* ``profiles``: the workloads of each profile (``smoke``, ``quick``, ``full``);
* ``results``: one row type per measurement; ``report``: :class:`BenchReport` and its figures;
* ``sampling``: bounded loops, server and client CPU accounting, medians;
* ``connection``: one new TLS connection (:func:`tls_ping`); ``servers``: the servers a run starts;
* ``throughput`` (redis-benchmark), ``handshakes`` (new connections, resumption), ``pooling``
  (redis-py pool vs a new client per command, built each way), ``comparison`` (runbook vs guide settings): the measures;
* ``run``: :func:`measure`, every measurement of a profile;
* ``verdicts``: :func:`checks`, and notebook 06's summary evidence; ``render``: tables and the plot.
"""

from runbook.bench.comparison import measure_comparison
from runbook.bench.connection import Ping, tls_ping
from runbook.bench.handshakes import measure_handshakes, measure_resumption
from runbook.bench.pooling import measure_per_command, measure_pooled, measure_pooling, new_client
from runbook.bench.profiles import PROFILES, Profile, profile, with_profile
from runbook.bench.render import (
    comparison_table,
    cost_table,
    handshake_table,
    plot,
    pooling_table,
    resumption_table,
    tables,
    throughput_table,
)
from runbook.bench.report import (
    BenchReport,
    cost_rows,
    figures,
    handshake_ratio,
    pooling_ratio,
    resumption_ratio,
    tls_cost_percent,
)
from runbook.bench.results import (
    ComparisonResult,
    HandshakeResult,
    PoolingResult,
    ResumptionResult,
    ThroughputResult,
)
from runbook.bench.run import measure
from runbook.bench.sampling import server_cpu_seconds
from runbook.bench.servers import bench_pki, bench_servers, wait_ready
from runbook.bench.settings import (
    CLAIM_HIGH,
    CLAIM_LOW,
    CLIENTS,
    GUIDE_KEY,
    GUIDE_SETTINGS,
    HOSTNAME,
    KEY_TYPES,
    LOOPBACK,
    PROTOCOLS,
    RUNBOOK_CLIENT,
    RUNBOOK_KEY,
    RUNBOOK_SETTINGS,
    SSL_ARGS_CLIENT,
)
from runbook.bench.throughput import (
    BENCH_HINT,
    measure_throughput,
    parse_benchmark_csv,
    redis_benchmark_binary,
    run_redis_benchmark,
)
from runbook.bench.verdicts import (
    CHECK_IDS,
    ECDSA_OVER_RSA4096_MIN,
    EXTERNAL_SKIP,
    NO_SLOWER_TOLERANCE,
    POOLED_OVER_PER_COMMAND_MIN,
    RESUMED_OVER_FULL_MIN,
    checks,
    evidence,
    skipped_checks,
)

__all__ = [
    "BENCH_HINT",
    "CHECK_IDS",
    "CLAIM_HIGH",
    "CLAIM_LOW",
    "CLIENTS",
    "ECDSA_OVER_RSA4096_MIN",
    "EXTERNAL_SKIP",
    "GUIDE_KEY",
    "GUIDE_SETTINGS",
    "HOSTNAME",
    "KEY_TYPES",
    "LOOPBACK",
    "NO_SLOWER_TOLERANCE",
    "POOLED_OVER_PER_COMMAND_MIN",
    "PROFILES",
    "PROTOCOLS",
    "RESUMED_OVER_FULL_MIN",
    "RUNBOOK_CLIENT",
    "RUNBOOK_KEY",
    "RUNBOOK_SETTINGS",
    "SSL_ARGS_CLIENT",
    "BenchReport",
    "ComparisonResult",
    "HandshakeResult",
    "Ping",
    "PoolingResult",
    "Profile",
    "ResumptionResult",
    "ThroughputResult",
    "bench_pki",
    "bench_servers",
    "checks",
    "comparison_table",
    "cost_rows",
    "cost_table",
    "evidence",
    "figures",
    "handshake_ratio",
    "handshake_table",
    "measure",
    "measure_comparison",
    "measure_handshakes",
    "measure_per_command",
    "measure_pooled",
    "measure_pooling",
    "measure_resumption",
    "measure_throughput",
    "new_client",
    "parse_benchmark_csv",
    "plot",
    "pooling_ratio",
    "pooling_table",
    "profile",
    "redis_benchmark_binary",
    "resumption_ratio",
    "resumption_table",
    "run_redis_benchmark",
    "server_cpu_seconds",
    "skipped_checks",
    "tables",
    "throughput_table",
    "tls_cost_percent",
    "tls_ping",
    "wait_ready",
    "with_profile",
]
