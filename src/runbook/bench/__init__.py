"""What TLS costs, measured: plaintext vs TLS, handshake cost, session resumption, pooling."""

from runbook.bench.comparison import measure_comparison
from runbook.bench.pooling import measure_per_command, new_client
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
)
from runbook.bench.results import (
    ComparisonResult,
    HandshakeResult,
    PoolingResult,
    ResumptionResult,
    ThroughputResult,
)
from runbook.bench.run import measure
from runbook.bench.servers import bench_pki, bench_servers
from runbook.bench.settings import (
    GUIDE_KEY,
    KEY_TYPES,
    PROTOCOLS,
    RUNBOOK_CLIENT,
    RUNBOOK_KEY,
    SSL_ARGS_CLIENT,
)
from runbook.bench.throughput import parse_benchmark_csv, redis_benchmark_binary
from runbook.bench.verdicts import CHECK_IDS, EXTERNAL_SKIP, checks, evidence, skipped_checks
