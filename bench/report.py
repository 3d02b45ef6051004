"""bench/RESULTS.md from one run of bench/run.py: machine, versions, tables, per-round ratios, stages, targets."""

from __future__ import annotations

import json
import math

PEER_NAMES = {"kminion": "KMinion", "kafka_exporter": "kafka_exporter", "burrow": "Burrow"}
STAGE_NAMES = {
    "collect": "wire and decode (`ClusterPipeline.scrape`: Kafka requests, response decode, snapshot)",
    "lag_model": "lag model (`lag.build_report` without its time-lag estimates)",
    "time_lag": "time lag (`lag.update_histories` + `timelag.estimate` per row)",
    "statuses": "statuses (`Alerting.evaluate`, the daemon's default)",
    "documents": "document building (`documents.iterate`)",
    "serialization": "serialization (`ElasticsearchSink.bodies`: `_bulk` body bytes)",
}


def _median(stat: dict | None) -> float | None:
    if not stat or not stat.get("n"):
        return None
    value = stat["median"]
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def fmt_s(stat: dict | None) -> str:
    if not stat or not stat.get("n"):
        return "n/a"
    if stat["n"] == 1:
        return f"{_num(stat['median'])} s"
    return f"{_num(stat['median'])} s ({_num(stat['min'])}-{_num(stat['max'])}, n={stat['n']})"


def fmt_mb(stat: dict | None) -> str:
    if not stat or not stat.get("n") or _median(stat) is None:
        return "n/a"
    if stat["n"] == 1:
        return f"{stat['median']:.0f} MB"
    return f"{stat['median']:.0f} MB ({stat['min']:.0f}-{stat['max']:.0f})"


def fmt_ratio(stat: dict | None) -> str:
    if not stat or not stat.get("n"):
        return "n/a"
    return f"{stat['median']:.2f}x ({stat['min']:.2f}-{stat['max']:.2f}, n={stat['n']})"


def ratio_of_medians(theirs: dict, ours: dict) -> str:
    a, b = _median(theirs), _median(ours)
    return f"{a / b:.1f}x" if a and b else "n/a"


# --- tables ----------------------------------------------------------------------------------------


def _headline(r: dict) -> list[str]:
    lw, st = r["lagwatch"], r["stages"]
    out = ["| tool | wall time, median (min-max, runs) | CPU | peak RSS | Kafka requests | lagwatch faster by |",
           "|---|---|---|---|---|---|",
           f"| **lagwatch**, first scrape of a fresh process | {fmt_s(lw['wall_s'])} | {fmt_s(lw['cpu_s'])}; "
           f"waited {_num(_median(lw.get('runq_s')) or 0)} s for a CPU | "
           f"{fmt_mb(lw['peak_rss_mb'])} | {lw['requests']} | - |",
           f"| **lagwatch**, next scrape (daemon steady state) | {fmt_s(lw['warm_wall_s'])} | "
           f"{fmt_s(lw['warm_cpu_s'])}; waited {_num(_median(lw.get('warm_runq_s')) or 0)} s for a CPU | "
           f"(same process) | {lw.get('warm_requests', '?')} | - |",
           f"| **lagwatch**, next scrape staged: the above plus statuses and serialization to `_bulk` bytes | "
           f"{fmt_s(st['warm']['total']['wall_s'])} | {fmt_s(st['warm']['total']['cpu_s'])} | "
           f"{fmt_mb(st['peak_rss_mb'])} | {st['warm']['stages']['collect']['requests']} | - |"]
    for peer, label in PEER_NAMES.items():
        p = r.get(peer)
        if p is None:
            continue
        if p.get("ran"):
            ready = f"; serving {p['ready_s']:.1f} s after start" if p.get("ready_s") else ""
            out.append(f"| {label} {p.get('version', '')} ({p['what']}{ready}) | {fmt_s(p['wall_s'])} | "
                       f"{fmt_s(p.get('cpu_s'))} (all its threads) | {fmt_mb(p['peak_rss_mb'])} | - | "
                       f"{fmt_ratio(p['ratio']['next'])} per round (CPU: {p['ratio']['cpu']['median']:.2f}x) |")
        else:
            out.append(f"| {label} | did not run: {p['why']} | | | | |")
    s = r["seeds"]
    label = (f"seeds' routine ({s['sample_groups']} of {r['spec']['groups']:,} groups measured, **extrapolated**)"
             if s["extrapolated"] else "seeds' routine")
    out.append(f"| {label} | {fmt_s(s['wall_s'])} | - | {fmt_mb(s['peak_rss_mb'])} | ~3 per partition | "
               f"{ratio_of_medians(s['wall_s'], lw['wall_s'])} |")
    k = r["kafka_tool"]
    out.append(f"| Kafka `ConsumerGroupCommand --describe --all-groups` (JVM start {fmt_s(k['jvm_start_s'])} "
               f"included) | {fmt_s(k['wall_s'])} | {fmt_s(k['cpu_s'])} | {fmt_mb(k['peak_rss_mb'])} | - | "
               f"{ratio_of_medians(k['wall_s'], lw['wall_s'])} |")
    return out


def _agreement(r: dict) -> str:
    lw = r["lagwatch"]
    parts = [f"lagwatch {lw['lag']:,}" if lw.get("lag") is not None else "lagwatch ?"]
    for peer, label in PEER_NAMES.items():
        p = r.get(peer, {})
        if p.get("ran"):
            parts.append(f"{label} {p['lag']:,} ({p['rows']:,} rows with a lag, {p['groups_seen']:,} groups)")
    return f"Lag summed over the estate's groups: as built {r.get('expected_lag', 0):,}; " + ", ".join(parts) + "."


def _rounds(r: dict) -> list[str]:
    ran = [p for p in PEER_NAMES if any(f"{p}_s" in row for row in r["rounds"])]
    head = ("| round | load (1 min) | order | lagwatch first | lagwatch next (CPU; without its wait for a CPU) | "
            "staged next |")
    rule = "|---|---|---|---|---|---|"
    for peer in ran:
        label = PEER_NAMES[peer]
        head += f" {label} (CPU) | {label} / lagwatch next (CPU / CPU) |"
        rule += "---|---|"
    out = [head, rule]
    for row in r["rounds"]:
        ours = row["lagwatch_next_s"] - row.get("lagwatch_next_runq_s", 0)
        line = (f"| {row['round']} | {row['load1']:.1f} | {', '.join(row['order'])} | {row['lagwatch_first_s']:.2f} s "
                f"| {row['lagwatch_next_s']:.2f} s ({row['lagwatch_next_cpu_s']:.2f} s; {ours:.2f} s) | "
                f"{row.get('staged_next_s', float('nan')):.2f} s |")
        for peer in ran:
            if f"{peer}_s" in row:
                line += (f" {row[f'{peer}_s']:.2f} s ({row[f'{peer}_cpu_s']:.2f} s) | "
                         f"**{row[f'{peer}_ratio_next']:.2f}x** ({row[f'{peer}_ratio_cpu']:.2f}x) |")
            else:
                line += " - | - |"
        out.append(line)
    return out


def _stages(st: dict) -> list[str]:
    first, warm = st["first"], st["warm"]
    total = _median(warm["total"]["wall_s"]) or float("nan")
    total_cpu = _median(warm["total"]["cpu_s"]) or float("nan")

    def cell(stage: dict) -> str:
        return (f"{fmt_s(stage['wall_s'])}; CPU {_num(_median(stage['cpu_s']) or 0)} s, "
                f"waited {_num(_median(stage.get('runq_s')) or 0)} s for a CPU")

    out = [f"Staged scrape (`python -m bench.stages`, {st['runs']} runs, one per round; medians): "
           f"{warm['rows']:,} rows, {warm['documents']:,} documents, {warm['bulk_bodies']:,} `_bulk` bodies of "
           f"{warm['bulk_bytes'] / 1e6:.1f} MB in all. CPU time is the figure that does not depend on the "
           "machine's other load.", "",
           "| stage | first scrape | next scrape | share of next (CPU) |", "|---|---|---|---|"]
    for name, label in STAGE_NAMES.items():
        a, b = first["stages"][name], warm["stages"][name]
        share = (_median(b["cpu_s"]) or 0) / total_cpu
        out.append(f"| {label} | {cell(a)} | {cell(b)} | {100 * share:.0f}% |")
        if name == "collect":
            out.append(f"| &nbsp;&nbsp;of which decode (kafka-python, CPU) | {fmt_s(a['decode_cpu_s'])} | "
                       f"{fmt_s(b['decode_cpu_s'])} | {100 * (_median(b['decode_cpu_s']) or 0) / total_cpu:.0f}% |")
            rest_a = (_median(a["cpu_s"]) or 0) - (_median(a["decode_cpu_s"]) or 0)
            rest_b = (_median(b["cpu_s"]) or 0) - (_median(b["decode_cpu_s"]) or 0)
            out.append(f"| &nbsp;&nbsp;of which other CPU (requests, receive, the collector's snapshot) | "
                       f"{_num(max(rest_a, 0))} s | {_num(max(rest_b, 0))} s | {100 * max(rest_b, 0) / total_cpu:.0f}% |")
            out.append(f"| &nbsp;&nbsp;broker wait (off CPU, not waiting for one) | {fmt_s(a['broker_wait_s'])} | "
                       f"{fmt_s(b['broker_wait_s'])} | - |")
    out.append(f"| **total** | {cell(first['total'])} | {cell(warm['total'])} | 100% |")
    collect = warm["stages"]["collect"]
    by_api = ", ".join(f"{api} {count} ({collect['bytes_by_api'].get(api, 0) / 1e6:.2f} MB)"
                       for api, count in sorted(collect["responses"].items()))
    out += ["", f"Responses decoded in the next scrape: {collect['response_bytes'] / 1e6:.2f} MB in "
                f"{sum(collect['responses'].values())} responses: {by_api}."]
    floor = collect.get("floor")
    if floor:
        cpu_by_api = collect.get("decode_cpu_by_api", {})
        out.append(f"Decode CPU by API (kafka-python): " + ", ".join(
            f"{api} {cpu:.3f} s" for api, cpu in sorted(cpu_by_api.items(), key=lambda kv: -kv[1])) + ". "
            f"Floor: the same OffsetFetch responses ({floor['offset_fetch_bytes'] / 1e6:.2f} MB, "
            f"{floor['offset_fetch_rows']:,} partition rows; kafka-python decoded "
            f"{floor['offset_fetch_rows_kafka_python']:,}) read straight from their bytes into tuples "
            f"(bench/floor.py): {fmt_s(collect['floor_cpu_s'])} CPU, against "
            f"{fmt_s(collect['offset_fetch_decode_cpu_s'])} for kafka-python's decode of them.")
    return out


def _indexing(ix: dict) -> str:
    return (f"Indexing {ix['documents']:,} documents in batches of {ix['chunk']} (rounds in rotating order): "
            f"lagwatch's sink {ix['lagwatch_docs_s']['median']:,.0f} docs/s "
            f"({ix['lagwatch_docs_s']['min']:,.0f}-{ix['lagwatch_docs_s']['max']:,.0f}), raw `_bulk` loop with "
            f"the standard library's json {ix['raw_docs_s']['median']:,.0f} docs/s, with orjson "
            f"{ix['raw_orjson_docs_s']['median']:,.0f} docs/s. Per-round share of the raw loop: "
            + ", ".join(f"{100 * v:.0f}%" for v in ix["share_rounds"])
            + f" (median **{100 * ix['share']['median']:.0f}%**); of the orjson loop: "
            + ", ".join(f"{100 * v:.0f}%" for v in ix["share_orjson_rounds"])
            + f" (median {100 * ix['share_orjson']['median']:.0f}%). Client CPU for all documents (the rest "
            f"of the time is Elasticsearch's): lagwatch {fmt_s(ix['lagwatch_client_cpu_s'])}, raw "
            f"{fmt_s(ix['raw_client_cpu_s'])}, raw with orjson {fmt_s(ix['raw_orjson_client_cpu_s'])}. "
            f"Delivery (`ElasticsearchSink.deliver`, serialization included) {fmt_s(ix['lagwatch_wall_s'])}.")


def _growth(points: list[dict]) -> list[str]:
    out = ["| size | groups | group-partition rows | first scrape | next scrape | peak RSS | next scrape per "
           "1,000 rows | RSS per 1,000 rows | staged next: collect / lag model / time lag / statuses / documents / "
           "serialization |", "|---|---|---|---|---|---|---|---|---|"]
    for point in points:
        g, st = point["lagwatch"], point.get("stages")
        rows = g["pairs"]
        warm, rss = _median(g["warm_wall_s"]), _median(g["peak_rss_mb"])
        staged = ""
        if st:
            staged = " / ".join(f"{_median(st['warm']['stages'][n]['wall_s']):.2f}" for n in STAGE_NAMES) + " s"
        out.append(f"| {point['factor']:g}x | {point['groups']:,} | {rows:,} | {fmt_s(g['wall_s'])} | "
                   f"{fmt_s(g['warm_wall_s'])} | {fmt_mb(g['peak_rss_mb'])} | "
                   f"{1000 * 1000 * warm / rows:.1f} ms | {1000 * rss / rows:.2f} MB | {staged} |")
    return out


def tables(results: dict) -> str:
    out = []
    for name, r in results["estates"].items():
        lw = r["lagwatch"]
        out += [f"\n### Estate {name}: {r['describe']}\n"] + _headline(r)
        out += ["", f"lagwatch: {lw['groups']:,} groups, {lw['pairs']:,} group-partition rows, {lw['documents']:,} "
                    f"documents, {lw['errors']} errors; requests by API (first scrape): "
                    f"`{json.dumps(lw['requests_by_api'])}`. Estate built in "
                + ", ".join(f"{k} {v:.0f}s" for k, v in r["build_s"].items()) + ". " + _agreement(r)]
        if r["kafka_tool"].get("note"):
            out.append(f"\nKafka tool: {r['kafka_tool']['note']}")
        out += ["", f"#### Rounds ({name})", ""] + _rounds(r)
        out += ["", f"#### Where lagwatch's time goes ({name})", ""] + _stages(r["stages"])
        if "indexing" in r:
            out += ["", _indexing(r["indexing"])]
        if "growth" in r:
            out += ["", f"#### Growth ({name}: the estate's groups times 1, 2, 4 on the same broker; lagwatch)", ""]
            out += _growth(r["growth"])
    return "\n".join(out)


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
        first, warm, rss = _median(lw["wall_s"]), _median(lw["warm_wall_s"]), _median(lw["peak_rss_mb"])
        km = r.get("kminion", {})
        if km.get("ran"):
            ratio = km["ratio"]
            rows.append((f"{name}: >= 2x faster than KMinion's full scrape (median of per-round ratios)",
                         f"next scrape {fmt_ratio(ratio['next'])}; CPU per scrape {ratio['cpu']['median']:.2f}x; "
                         f"first scrape {ratio['first']['median']:.2f}x; staged "
                         f"next scrape (+ statuses, serialization) {ratio['staged']['median']:.2f}x",
                         verdict(ratio["next"]["median"] >= 2)))
            theirs = _median(km["peak_rss_mb"])
            rows.append((f"{name}: peak RSS at or below KMinion's", f"{rss:.0f} MB vs {theirs:.0f} MB",
                         verdict(rss <= theirs)))
        elif "kminion" in r:
            rows.append((f"{name}: >= 2x faster than KMinion's full scrape", f"KMinion did not run: {km.get('why')}",
                         "n/a"))
        if base == "G":
            runq = _median(lw.get("warm_runq_s")) or 0
            rows.append((f"{name}: one full scrape under 2 s",
                         f"next scrape {warm:.2f} s ({warm - runq:.2f} s without its wait for a CPU; CPU "
                         f"{_median(lw['warm_cpu_s']):.2f} s), first {first:.2f} s", verdict(warm < 2)))
        if base in rss_limit:
            rows.append((f"{name}: peak RSS under {rss_limit[base]} MB", f"{rss:.0f} MB", verdict(rss < rss_limit[base])))
        if "indexing" in r:
            ix = r["indexing"]
            rows.append((f"{name}: indexing >= 95% of the raw `_bulk` loop's docs/s (median of per-round shares)",
                         f"{100 * ix['share']['median']:.0f}% (of the same loop with orjson: "
                         f"{100 * ix['share_orjson']['median']:.0f}%)", verdict(ix["share"]["median"] >= 0.95)))
        if "growth" in r:
            points = r["growth"]
            per = [1e6 * _median(p["lagwatch"]["warm_wall_s"]) / p["lagwatch"]["pairs"] for p in points]
            rss = [1e3 * _median(p["lagwatch"]["peak_rss_mb"]) / p["lagwatch"]["pairs"] for p in points]
            rows.append((f"{name}: growth curve 1x/2x/4x with time and RSS per 1,000 rows",
                         "next scrape " + ", ".join(f"{v:.1f}" for v in per) + " ms and peak RSS "
                         + ", ".join(f"{v:.2f}" for v in rss) + " MB per 1,000 group-partition rows", "reported"))
    for name, r in results["estates"].items():
        lw = r["lagwatch"]
        ours = _median(lw["wall_s"])
        seeds = _median(r["seeds"]["wall_s"])
        if seeds:
            rows.append((f"{name}: >= 100x faster than the seeds' routine (#7)", f"{seeds / ours:,.0f}x",
                         verdict(seeds / ours >= 100)))
        tool = _median(r["kafka_tool"]["wall_s"])
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
        "(bench/run.py `SEEDS_CODE`). Run on a sample of groups spread over the estate and extrapolated "
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
