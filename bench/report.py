"""bench/RESULTS.md from one run of bench/run.py: machine, versions, tables, per-round ratios, stages, targets."""

from __future__ import annotations

import json

from bench.report_tables import PEER_NAMES, fmt_ratio, median_of, tables


# --- targets ---------------------------------------------------------------------------------------


def targets(results: dict) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for every target of issue #14 (and the earlier ones of issue #7)."""
    rows = []

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("met" if ok else "**missed**")

    rss_limit = {"W": 120, "G": 300}
    for name, r in results["estates"].items():
        base = name.split("x")[0]
        lw = r["lagwatch"]
        first, warm, rss = median_of(lw["wall_s"]), median_of(lw["warm_wall_s"]), median_of(lw["peak_rss_mb"])
        km = r.get("kminion", {})
        if km.get("ran"):
            ratio = km["ratio"]
            rows.append((f"{name}: >= 2x faster than KMinion's full scrape (median of per-round ratios)",
                         f"next scrape {fmt_ratio(ratio['next'])}; CPU per scrape {ratio['cpu']['median']:.2f}x; "
                         f"first scrape {ratio['first']['median']:.2f}x; staged "
                         f"next scrape (+ statuses, serialization) {ratio['staged']['median']:.2f}x",
                         verdict(ratio["next"]["median"] >= 2)))
            theirs = median_of(km["peak_rss_mb"])
            rows.append((f"{name}: peak RSS at or below KMinion's", f"{rss:.0f} MB vs {theirs:.0f} MB",
                         verdict(rss <= theirs)))
        elif "kminion" in r:
            rows.append((f"{name}: >= 2x faster than KMinion's full scrape", f"KMinion did not run: {km.get('why')}",
                         "n/a"))
        if base == "G":
            runq = median_of(lw.get("warm_runq_s")) or 0
            rows.append((f"{name}: one full scrape under 2 s",
                         f"next scrape {warm:.2f} s ({warm - runq:.2f} s without its wait for a CPU; CPU "
                         f"{median_of(lw['warm_cpu_s']):.2f} s), first {first:.2f} s", verdict(warm < 2)))
        if base in rss_limit:
            rows.append((f"{name}: peak RSS under {rss_limit[base]} MB", f"{rss:.0f} MB", verdict(rss < rss_limit[base])))
        if "indexing" in r:
            ix = r["indexing"]
            rows.append((f"{name}: indexing >= 95% of the raw `_bulk` loop's docs/s (median of per-round shares)",
                         f"{100 * ix['share']['median']:.0f}% (of the same loop with orjson: "
                         f"{100 * ix['share_orjson']['median']:.0f}%)", verdict(ix["share"]["median"] >= 0.95)))
        if "growth" in r:
            points = r["growth"]
            per = [1e6 * median_of(p["lagwatch"]["warm_wall_s"]) / p["lagwatch"]["pairs"] for p in points]
            rss = [1e3 * median_of(p["lagwatch"]["peak_rss_mb"]) / p["lagwatch"]["pairs"] for p in points]
            rows.append((f"{name}: growth curve 1x/2x/4x with time and RSS per 1,000 rows",
                         "next scrape " + ", ".join(f"{v:.1f}" for v in per) + " ms and peak RSS "
                         + ", ".join(f"{v:.2f}" for v in rss) + " MB per 1,000 group-partition rows", "reported"))
    for name, r in results["estates"].items():
        lw = r["lagwatch"]
        ours = median_of(lw["wall_s"])
        seeds = median_of(r["seeds"]["wall_s"])
        if seeds:
            rows.append((f"{name}: >= 100x faster than the seeds' routine (#7)", f"{seeds / ours:,.0f}x",
                         verdict(seeds / ours >= 100)))
        tool = median_of(r["kafka_tool"]["wall_s"])
        rows.append((f"{name}: <= half the wall time of Kafka's tool (#7)",
                     f"{tool / ours:.1f}x faster" if tool else "tool did not finish",
                     verdict(tool / ours >= 2 if tool else None)))
    return rows


def render(results: dict) -> str:
    m = results["machine"]
    load = results.get("load", {})
    lines = [
        "# lagwatch benchmark results",
        "",
        "Produced by one run of `python -m bench.run " + " ".join(results["argv"]) + "` "
        f"(started {results['started']}, {results['elapsed_s'] / 60:.0f} min). Every number below comes from "
        "that one run: same machine, same estates, one after the other. Ratios measured within one round are the "
        "primary figures; absolute times depend on the machine and on its load.",
        "",
        "## Machine and versions",
        "",
        f"- {m.get('cpu', '?')}, {m.get('cpus')} cores, {m.get('memory_gb', '?')} GB; {m['platform']}",
        f"- load average (1/5/15 min) at the start: {' '.join(m['loadavg'])}; at the end: "
        f"{' '.join(results['loadavg_end'])}; 1-minute load sampled every 10 s during the run: median "
        f"{load.get('median', float('nan')):.1f}, min {load.get('min', float('nan')):.1f}, max "
        f"{load.get('max', float('nan')):.1f} ({load.get('samples', 0)} samples). The machine is shared with other "
        "engineers' test runs: with 2 cores, a load above 2 means every process here waited for a CPU part of the "
        "time; each round's load is in its row.",
        f"- Apache Kafka {m['kafka']} (one KRaft broker, `-Xmx2g`, `offsets.topic.num.partitions=50`), "
        f"Elasticsearch {m['elasticsearch']} (integ-test-zip, one node, 512 MB heap), {m.get('java', 'java ?')}",
        f"- Python {m['python']}, kafka-python {m['kafka_python']}",
    ]
    for name, state in (results.get("peer_setup") or {}).items():
        if state["ok"]:
            how = (f"built with `{state['build']}` in {state['checkout']} ({state['go']}"
                   + (", cached binary" if state.get("cached") else f", {state.get('build_s', 0):.0f} s") + ")"
                   if state["how"] == "built" else "installed with `go install`")
            lines.append(f"- {PEER_NAMES.get(name, name)} {state.get('version') or '?'} "
                         f"(commit {state.get('commit', '?')[:12]}): {how}")
        else:
            lines.append(f"- {PEER_NAMES.get(name, name)}: not built: {state['why']}")
    lines += [
        "",
        "## What is measured",
        "",
        "- **lagwatch**: `python -m bench.scrape_once`, one fresh process per round: `ClusterPipeline.run_once()`, "
        "the daemon's own cycle (collect, lag model, documents built chunk by chunk) without a sink and with "
        "broker time probes off (the daemon runs them at most every 10 minutes per partition). Wall and CPU time of "
        "the first scrape (connecting included) and of a second scrape on the same connection (what the daemon "
        "does every interval); peak RSS of the whole process (its VmHWM, interpreter and imports included; not "
        "`ru_maxrss` from `wait4`, which Linux carries over exec from the vforked parent: every child would show at "
        "least this bench process's own peak); Kafka requests counted by the collector.",
        "- **staged**: `python -m bench.stages`, one fresh process per round: the same functions the pipeline "
        "calls, timed one by one from the outside (bench/stages.py), plus statuses (on by default in the daemon) "
        "and serialization to the `_bulk` bodies the sink would send. Delivery is measured apart (indexing).",
        "- **peers**: built from source checkouts (bench/README.md, bench/peers.py), started once per estate on "
        "free ports on 127.0.0.1, warmed up with one full scrape, then one steady-state full scrape per round: "
        "KMinion and kafka_exporter collect everything afresh on every `/metrics`; Burrow consumes "
        "`__consumer_offsets` all the time and answers `/metrics` from memory. Peak RSS is the process's `VmHWM` "
        "after the rounds. Ratios are per round: the peer's time over lagwatch's in the same round; their CPU is "
        "all their threads' (KMinion and Burrow work on both cores at once, lagwatch's scrape on one).",
        "- **seeds' routine**: one `KafkaConsumer` per group created inside the group, "
        "`assign`/`committed`/`seek_to_end`/`position` per partition of each topic the group committed on "
        "(bench/contenders.py `SEEDS_CODE`). Run on a sample of groups spread over the estate and extrapolated "
        "linearly to all groups (labelled so).",
        "- **Kafka's tool**: `ConsumerGroupCommand --describe --all-groups` from the same Kafka jars with the "
        "256 MB heap `kafka-run-class.sh` gives it; wall time includes the JVM start (measured apart with "
        "`--version`, shown in the row).",
        "- **indexing**: the same documents (estate W's scrape), batches of 1,000, into fresh daily indices made "
        "from lagwatch's template: lagwatch's `ElasticsearchSink.deliver` against a hand-written NDJSON "
        "`_bulk` loop over one kept-alive HTTP connection (standard library json, and orjson); order rotated.",
        "",
        "## Results",
        tables(results),
        "",
        "## Targets (issues #14 and #7)",
        "",
        "| target | measured | |",
        "|---|---|---|",
    ]
    lines += [f"| {t} | {m_} | {v} |" for t, m_, v in targets(results)]
    lines += ["", "<details><summary>raw numbers (JSON)</summary>", "", "```json",
              json.dumps(results["estates"], indent=1, default=str)[:80000], "```", "</details>", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.report RESULTS.json OUT.md`: render a run's report again from its --json file."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m bench.report", description=main.__doc__)
    parser.add_argument("json", help="the --json file of a bench.run")
    parser.add_argument("out", help="where to write the Markdown report")
    args = parser.parse_args(argv)
    Path(args.out).write_text(render(json.loads(Path(args.json).read_text())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
