"""bench/RESULTS.md from one run of bench/run.py: machine, versions, commands, table, ratios, targets."""

from __future__ import annotations

import json


def _median(stat: dict | None) -> float | None:
    if not stat or not stat.get("n"):
        return None
    return stat["median"]


def targets(results: dict) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for every target of issue #7 that this run measured."""
    rows = []

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("met" if ok else "**missed**")

    limits = {"W": 1.0, "G": 2.0}
    for name, r in results["estates"].items():
        lw = r["lagwatch"]
        ours, warm = _median(lw["wall_s"]), _median(lw["warm_wall_s"])
        base = name.split("x")[0]
        if base in limits:
            rows.append((f"{name}: scrape under {limits[base]:g} s",
                         f"first {ours:.2f} s, steady state {warm:.2f} s", verdict(ours < limits[base])))
        seeds = _median(r["seeds"]["wall_s"])
        if seeds:
            rows.append((f"{name}: >= 100x faster than the seeds' routine", f"{seeds / ours:,.0f}x",
                         verdict(seeds / ours >= 100)))
        tool = _median(r["kafka_tool"]["wall_s"])
        rows.append((f"{name}: <= half the wall time of Kafka's tool",
                     f"{tool / ours:.1f}x faster" if tool else "tool did not finish",
                     verdict(tool / ours >= 2 if tool else None)))
        km = r.get("kminion", {})
        if km.get("ran"):
            theirs = _median(km["wall_s"])
            rows.append((f"{name}: no slower than KMinion's full scrape", f"{theirs / ours:.2f}x",
                         verdict(ours <= theirs)))
        elif "kminion" in r:
            rows.append((f"{name}: no slower than KMinion's full scrape", "KMinion did not run (see table)", "n/a"))
        rss = _median(lw["peak_rss_mb"])
        rows.append((f"{name}: peak RSS under 150 MB", f"{rss:.0f} MB", verdict(rss < 150)))
        if "indexing" in r:
            ix = r["indexing"]
            share = ix["lagwatch_docs_s"]["median"] / ix["raw_docs_s"]["median"]
            rows.append((f"{name}: indexing >= 90% of raw _bulk", f"{100 * share:.0f}%", verdict(share >= 0.9)))
    return rows


def render(results: dict, table: str) -> str:
    m = results["machine"]
    lines = [
        "# lagwatch benchmark results",
        "",
        "Produced by one run of `python -m bench.run " + " ".join(results["argv"]) + "` "
        f"(started {results['started']}, {results['elapsed_s'] / 60:.0f} min). Every number below comes from "
        "that one run: same machine, same estates, one after the other. Ratios measured in the same run are the "
        "primary figures; absolute times depend on the machine and on its load.",
        "",
        "## Machine and versions",
        "",
        f"- {m.get('cpu', '?')}, {m.get('cpus')} cores, {m.get('memory_gb', '?')} GB; {m['platform']}",
        f"- load average (1/5/15 min) at the start: {' '.join(m['loadavg'])}; at the end: "
        f"{' '.join(results['loadavg_end'])}. The machine is shared with other engineers' test runs: with 2 "
        "cores, a load above 2 means every process here waited for a CPU part of the time.",
        f"- Apache Kafka {m['kafka']} (one KRaft broker, `-Xmx2g`, `offsets.topic.num.partitions=50`), "
        f"Elasticsearch {m['elasticsearch']} (integ-test-zip, one node, 512 MB heap), {m.get('java', 'java ?')}",
        f"- Python {m['python']}, kafka-python {m['kafka_python']}",
    ]
    for name, state in (results.get("peer_setup") or {}).items():
        lines.append(f"- {name}: " + (f"installed, version {state.get('version') or '?'}" if state["ok"] else
                                       f"not installed: {state['why']}"))
    lines += [
        "",
        "## What is measured",
        "",
        "- **lagwatch**: `python -m bench.scrape_once`, one fresh process per run: `ClusterPipeline.run_once()`, "
        "the daemon's own cycle (collect, lag model, documents built chunk by chunk) without a sink and with "
        "broker time probes off (the daemon runs them at most every 10 minutes per partition). Wall and CPU time of the "
        "first scrape (connecting included) and of a second scrape on the same connection (what the daemon does "
        "every interval); peak RSS of the whole process (`ru_maxrss` from `wait4`, interpreter and imports "
        "included); Kafka requests counted by the collector.",
        "- **seeds' routine**: one `KafkaConsumer` per group created inside the group, "
        "`assign`/`committed`/`seek_to_end`/`position` per partition of each topic the group committed on "
        "(bench/run.py `SEEDS_CODE`). Run on a sample of groups spread over the estate and extrapolated "
        "linearly to all groups (labelled so).",
        "- **Kafka's tool**: `ConsumerGroupCommand --describe --all-groups` from the same Kafka jars with the "
        "256 MB heap `kafka-run-class.sh` gives it; wall time includes the JVM start (measured apart with "
        "`--version`, shown in the row).",
        "- **peers**: installed at bench time by package name (bench/peers.py); Burrow: time from start until "
        "its API lists every group with lag; exporters: one full `/metrics` scrape.",
        "- **indexing**: the same documents (estate W's scrape), batches of 1,000, into fresh daily indices made "
        "from lagwatch's template: lagwatch's `ElasticsearchSink.deliver` against a hand-written NDJSON "
        "`_bulk` loop over one kept-alive HTTP connection; alternating order.",
        "",
        "## Results",
        table,
        "",
        "## Targets (issue #7)",
        "",
        "| target | measured | |",
        "|---|---|---|",
    ]
    lines += [f"| {t} | {m_} | {v} |" for t, m_, v in targets(results)]
    lines += ["", "<details><summary>raw numbers (JSON)</summary>", "", "```json",
              json.dumps(results["estates"], indent=1, default=str)[:60000], "```", "</details>", ""]
    return "\n".join(lines)
