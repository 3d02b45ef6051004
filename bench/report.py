"""bench/RESULTS.md from one run of bench/run.py: machine, versions, tables, per-round ratios, stages, targets."""

from __future__ import annotations

import json

from bench.report_tables import PEER_NAMES, fmt_ratio, median_of, tables


# --- targets ---------------------------------------------------------------------------------------


def _held_by(r: dict) -> str:
    """The staged next scrape's stages by CPU, largest first, and the decode floor: what a missed time target is
    made of."""
    stages = r["stages"]["warm"]["stages"]
    cpu = sorted(((median_of(st["cpu_s"]) or 0.0, name) for name, st in stages.items()), reverse=True)
    parts = ", ".join(f"{name.replace('_', ' ')} {seconds:.3f} s" for seconds, name in cpu)
    collect = stages["collect"]
    floor = median_of(collect.get("floor_cpu_s"))
    ours = median_of(collect.get("offset_fetch_decode_cpu_s"))
    note = f"; held by (staged next, CPU): {parts}"
    if floor is not None and ours is not None:
        note += f"; OffsetFetch decode {ours:.3f} s against its floor {floor:.3f} s (bench/floor.py)"
    return note


def targets(results: dict) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for every target of issue #25 (and, where measured, the earlier ones of
    issue #7)."""
    rows = []

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("met" if ok else "**missed**")

    rss_limit = {"W": 100, "G": 220}
    ratio_goal = {"W": 2, "G": 5}
    for name, r in results["estates"].items():
        base = name.split("x")[0]
        lw = r["lagwatch"]
        first, warm, rss = median_of(lw["wall_s"]), median_of(lw["warm_wall_s"]), median_of(lw["peak_rss_mb"])
        km = r.get("kminion", {})
        goal = ratio_goal.get(base, 2)
        if km.get("ran"):
            ratio = km["ratio"]
            ok = ratio["next"]["median"] >= goal
            rows.append((f"{name}: the whole scrape to `_bulk` bytes >= {goal}x faster than KMinion's full /metrics "
                         "(median of per-round ratios)",
                         f"{fmt_ratio(ratio['next'])}; CPU {ratio['cpu']['median']:.2f}x; first scrape "
                         f"{ratio['first']['median']:.2f}x" + ("" if ok else _held_by(r)), verdict(ok)))
            theirs = median_of(km["peak_rss_mb"])
            rows.append((f"{name}: peak RSS at or below KMinion's", f"{rss:.0f} MB vs {theirs:.0f} MB",
                         verdict(rss <= theirs)))
        elif "kminion" in r:
            rows.append((f"{name}: >= {goal}x faster than KMinion", f"KMinion did not run: {km.get('why')}", "n/a"))
        if base == "G":
            runq = median_of(lw.get("warm_runq_s")) or 0
            ok = warm <= 1.5
            rows.append((f"{name}: the whole scrape to `_bulk` bytes in 1.5 s or less",
                         f"next scrape {warm:.2f} s ({warm - runq:.2f} s without its wait for a CPU; CPU "
                         f"{median_of(lw['warm_cpu_s']):.2f} s), first {first:.2f} s" + ("" if ok else _held_by(r)),
                         verdict(ok)))
        steady = r.get("steady")
        if steady:
            rows.append((f"{name}: {steady['scrapes']} scrapes in a row in one process (median and worst)",
                         f"{median_of(steady['wall_s']):.2f} s, worst {steady['worst']['wall_s']:.2f} s (scrape "
                         f"{steady['worst']['scrape']}); peak RSS {steady['peak_rss_mb']:.0f} MB", "reported"))
        if base in rss_limit:
            rows.append((f"{name}: peak RSS {rss_limit[base]} MB or less (a fresh process, two scrapes)",
                         f"{rss:.0f} MB", verdict(rss <= rss_limit[base])))
        if "indexing" in r:
            ix = r["indexing"]
            rows.append((f"{name}: indexing at least as fast as the raw orjson `_bulk` loop (median of per-round "
                         "shares)", f"{100 * ix['share_orjson']['median']:.0f}% (of the same loop with the standard "
                         f"library's json: {100 * ix['share']['median']:.0f}%)",
                         verdict(ix["share_orjson"]["median"] >= 1.0)))
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
        seeds = median_of(r["seeds"]["wall_s"]) if "seeds" in r else None
        if seeds:
            rows.append((f"{name}: >= 100x faster than the seeds' routine (#7)", f"{seeds / ours:,.0f}x",
                         verdict(seeds / ours >= 100)))
        if "kafka_tool" in r:
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
        "the daemon's own cycle per interval up to the bytes it hands its sink (collect, time lag, lag model, "
        "statuses with the daemon's default config, `_bulk` bytes a batch at a time), without a sink and with "
        "broker time probes off (the daemon runs them at most every 10 minutes per partition). Wall and CPU time of "
        "the first scrape (connecting included) and of a second scrape on the same connection (what the daemon "
        "does every interval); once per estate, the same in one process for many scrapes in a row (median and "
        "worst of all but the first, with the garbage collector's time: its periodic full collection is in "
        "them); peak RSS of the whole process (its VmHWM, interpreter and imports included; not "
        "`ru_maxrss` from `wait4`, which Linux carries over exec from the vforked parent: every child would show at "
        "least this bench process's own peak); Kafka requests counted by the collector.",
        "- **staged**: `python -m bench.stages`, one fresh process per round: the same functions the pipeline "
        "calls, timed one by one from the outside (bench/stages.py): where the time of the scrape above goes. "
        "Delivery is measured apart (indexing).",
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
        "from lagwatch's template: lagwatch's `ElasticsearchSink.deliver` of the scrape's batches (encoded at the "
        "scrape, timed there) against a hand-written NDJSON `_bulk` loop from the documents over one kept-alive "
        "HTTP connection (standard library json, and orjson); order rotated.",
        "",
        "## Results",
        tables(results),
        "",
        "## Targets (issue #25; #7's where measured)",
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
