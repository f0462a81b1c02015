"""A report as tables (:func:`tables`) and as one matplotlib figure (:func:`plot`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runbook import display
from runbook.bench.report import BenchReport, cost_rows
from runbook.bench.settings import CLAIM_HIGH, CLAIM_LOW


def _f(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def cost_table(report: BenchReport) -> display.Table:
    return display.Table(
        [
            "workload",
            "plaintext rps",
            "TLS rps",
            "throughput lost",
            "server µs/req plain",
            "server µs/req TLS",
            "server CPU added",
            f"within {CLAIM_LOW:.0f}-{CLAIM_HIGH:.0f}%?",
        ],
        (
            [
                r["workload"],
                _f(r["plaintext_rps"]),
                _f(r["tls_rps"]),
                f"{r['throughput_loss_pct']:.0f}%",
                _f(r["server_us_plaintext"], 1),
                _f(r["server_us_tls"], 1),
                "-" if r["server_cpu_added_pct"] is None else f"{r['server_cpu_added_pct']:.0f}%",
                "yes" if r["claim_holds"] else "no",
            ]
            for r in cost_rows(report)
        ),
        "Plaintext vs TLS (redis-benchmark, identical servers but TLS)",
    )


def throughput_table(report: BenchReport) -> display.Table:
    return display.Table(
        ["workload", "transport", "requests", "rps", "p50 ms", "p99 ms", "server µs/req", "client µs/req"],
        (
            [
                r.workload,
                r.transport,
                r.requests,
                _f(r.rps),
                _f(r.p50_ms, 3),
                _f(r.p99_ms, 3),
                _f(r.server_us_per_op, 1),
                _f(r.client_us_per_op, 1),
            ]
            for r in report.throughput
        ),
        "Throughput and latency",
    )


def handshake_table(report: BenchReport) -> display.Table:
    return display.Table(
        [
            "key type",
            "protocol",
            "connections",
            "conn/s (client)",
            "server ms/conn",
            "conn/s per server core",
            "client ms/conn",
        ],
        (
            [
                h.key_type,
                h.protocol,
                h.connections,
                _f(h.per_second),
                _f(h.server_ms, 2),
                _f(h.server_capacity),
                _f(h.client_ms, 2),
            ]
            for h in report.handshakes
        ),
        "New mutual-TLS connections (full handshake + PING)",
    )


def resumption_table(report: BenchReport) -> display.Table:
    return display.Table(
        [
            "key type",
            "session caching",
            "protocol",
            "handshake",
            "completed",
            "resumed",
            "conn/s",
            "server ms/conn",
            "error",
        ],
        (
            [
                r.key_type,
                "yes" if r.session_caching else "no",
                r.protocol,
                r.kind,
                f"{r.completed}/{r.attempts}",
                r.reused,
                _f(r.per_second),
                _f(r.server_ms, 2),
                r.error[:60],
            ]
            for r in report.resumption
        ),
        "Session resumption (Python client reusing SSLSession)",
    )


def pooling_table(report: BenchReport) -> display.Table:
    return display.Table(
        [
            "mode",
            "client",
            "connection class",
            "key type",
            "commands",
            "commands/s",
            "server µs/cmd",
            "client µs/cmd",
        ],
        (
            [
                p.mode,
                p.client,
                p.connection_class or "-",
                p.key_type,
                p.commands,
                _f(p.per_second),
                _f(p.server_us_per_op, 1),
                _f(p.client_us_per_op),
            ]
            for p in report.pooling
        ),
        "redis-py: pooled vs connect-per-command, by how the client is built",
    )


def comparison_table(report: BenchReport) -> display.Table:
    return display.Table(
        [
            "workload",
            "runbook ops/s",
            "guide ops/s",
            "runbook/guide",
            "server µs/op runbook",
            "server µs/op guide",
        ],
        (
            [
                c.workload,
                _f(c.runbook_ops),
                _f(c.guide_ops),
                f"{c.speedup:.2f}x",
                _f(c.runbook_server_us, 1),
                _f(c.guide_server_us, 1),
            ]
            for c in report.comparison
        ),
        "Runbook settings vs the guide's settings",
    )


def tables(report: BenchReport) -> list[display.Table]:
    return [
        cost_table(report),
        throughput_table(report),
        handshake_table(report),
        resumption_table(report),
        pooling_table(report),
        comparison_table(report),
    ]


def plot(report: BenchReport, path: Path | str | None = None) -> Any:
    """A 2x2 matplotlib figure of the report (Agg, headless). Writes a PNG when ``path`` is given."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 8), layout="constrained")
    (ax1, ax2), (ax3, ax4) = fig.subplots(2, 2)
    rows = cost_rows(report)
    xs = range(len(rows))
    ax1.bar([x - 0.2 for x in xs], [r["plaintext_rps"] for r in rows], 0.4, label="plaintext")
    ax1.bar([x + 0.2 for x in xs], [r["tls_rps"] for r in rows], 0.4, label="TLS")
    ax1.set_xticks(list(xs), [r["workload"].replace(" ", "\n", 1) for r in rows], fontsize=8)
    ax1.set_ylabel("requests/s")
    ax1.set_title("Throughput, plaintext vs TLS")
    ax1.legend()
    hs = report.handshakes
    capacity = [h.server_capacity or h.per_second for h in hs]
    ax2.bar([h.key_type for h in hs], capacity, color="tab:orange")
    ax2.set_ylabel("new connections/s per server core")
    ax2.set_title("Handshake cost by certificate key type")
    res = [r for r in report.resumption if r.session_caching]
    labels = [f"{r.key_type}\n{r.protocol}\n{r.kind}" for r in res]
    by_cpu = all(r.server_ms for r in res)
    heights = [1000.0 / r.server_ms if by_cpu and r.server_ms else r.per_second for r in res]
    ax3.bar(labels, heights, color=["tab:gray" if r.kind == "full" else "tab:green" for r in res])
    ax3.tick_params(axis="x", labelsize=7)
    ax3.set_ylabel("connections/s per server core" if by_cpu else "connections/s (client)")
    ax3.set_title("Full vs resumed handshakes")
    comp = report.comparison
    cx = range(len(comp))
    ax4.bar([x - 0.2 for x in cx], [c.runbook_ops for c in comp], 0.4, label="runbook settings")
    ax4.bar([x + 0.2 for x in cx], [c.guide_ops for c in comp], 0.4, label="guide settings")
    ax4.set_xticks(list(cx), ["steady", "reconnect", "redis-py"][: len(comp)])
    ax4.set_yscale("log")
    ax4.set_ylabel("ops/s (log)")
    ax4.set_title("Runbook vs guide settings")
    ax4.legend()
    fig.suptitle(
        f"What TLS costs: redis {report.redis_version}, {report.cpus} CPUs, profile {report.profile}"
    )
    if path is not None:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=90)
    return fig
