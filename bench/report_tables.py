"""The result tables of a bench run (bench/report.py puts them into RESULTS.md; bench/run.py prints them):
per estate the headline, the rounds, where lagwatch's time goes, indexing and growth; number formats."""

from __future__ import annotations

import json
import math

PEER_NAMES = {"kminion": "KMinion", "kafka_exporter": "kafka_exporter", "burrow": "Burrow"}
STAGE_NAMES = {
    "collect": "wire and decode (`ClusterPipeline.scrape`: Kafka requests, response decode, snapshot)",
    "lag_model": "lag model (`lag.build_report` without its time-lag estimates)",
    "time_lag": "time lag (`lag.update_histories` + `timelag.estimate` per row)",
    "statuses": "statuses (`Alerting.evaluate`, the daemon's default)",
    "bulk_bytes": "rows and statuses to `_bulk` bytes (`encode.encode`: the batches the sink sends)",
}


def median_of(stat: dict | None) -> float | None:
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
    if not stat or not stat.get("n") or median_of(stat) is None:
        return "n/a"
    if stat["n"] == 1:
        return f"{stat['median']:.0f} MB"
    return f"{stat['median']:.0f} MB ({stat['min']:.0f}-{stat['max']:.0f})"


def fmt_ratio(stat: dict | None) -> str:
    if not stat or not stat.get("n"):
        return "n/a"
    return f"{stat['median']:.2f}x ({stat['min']:.2f}-{stat['max']:.2f}, n={stat['n']})"


def ratio_of_medians(theirs: dict, ours: dict) -> str:
    a, b = median_of(theirs), median_of(ours)
    return f"{a / b:.1f}x" if a and b else "n/a"


# --- tables ----------------------------------------------------------------------------------------


def _headline(r: dict) -> list[str]:
    lw, st = r["lagwatch"], r["stages"]
    out = ["| tool | wall time, median (min-max, runs) | CPU | peak RSS | Kafka requests | lagwatch faster by |",
           "|---|---|---|---|---|---|",
           f"| **lagwatch**, first scrape of a fresh process (connecting included) | {fmt_s(lw['wall_s'])} | "
           f"{fmt_s(lw['cpu_s'])}; waited {_num(median_of(lw.get('runq_s')) or 0)} s for a CPU | "
           f"{fmt_mb(lw['peak_rss_mb'])} | {lw['requests']} | - |",
           f"| **lagwatch**, next scrape: the daemon's whole cycle per interval (collect, time lag, lag model, "
           f"statuses, `_bulk` bytes) | {fmt_s(lw['warm_wall_s'])} | "
           f"{fmt_s(lw['warm_cpu_s'])}; waited {_num(median_of(lw.get('warm_runq_s')) or 0)} s for a CPU | "
           f"(same process) | {lw.get('warm_requests', '?')} | - |"]
    steady = r.get("steady")
    if steady:
        worst = steady["worst"]
        out.append(f"| **lagwatch**, {steady['scrapes']} scrapes in a row in one process: scrapes 2-{steady['scrapes']} "
                   f"(worst: scrape {worst['scrape']}, {worst['wall_s']:.3g} s) | {fmt_s(steady['wall_s'])} | "
                   f"{fmt_s(steady['cpu_s'])}; garbage collector {fmt_s(steady['gc_s'])} | "
                   f"{steady['peak_rss_mb']:.0f} MB | - | - |")
    out.append(f"| **lagwatch**, next scrape staged: the same stages timed one by one from the outside (their sum) | "
               f"{fmt_s(st['warm']['total']['wall_s'])} | {fmt_s(st['warm']['total']['cpu_s'])} | "
               f"{fmt_mb(st['peak_rss_mb'])} | {st['warm']['stages']['collect']['requests']} | - |")
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
    s = r.get("seeds")
    if s:
        label = (f"seeds' routine ({s['sample_groups']} of {r['spec']['groups']:,} groups measured, "
                 "**extrapolated**)" if s["extrapolated"] else "seeds' routine")
        out.append(f"| {label} | {fmt_s(s['wall_s'])} | - | {fmt_mb(s['peak_rss_mb'])} | ~3 per partition | "
                   f"{ratio_of_medians(s['wall_s'], lw['wall_s'])} |")
    k = r.get("kafka_tool")
    if k:
        out.append(f"| Kafka `ConsumerGroupCommand --describe --all-groups` (JVM start {fmt_s(k['jvm_start_s'])} "
                   f"included) | {fmt_s(k['wall_s'])} | {fmt_s(k['cpu_s'])} | {fmt_mb(k['peak_rss_mb'])} | - | "
                   f"{ratio_of_medians(k['wall_s'], lw['wall_s'])} |")
    return out


def _steady(steady: dict) -> str:
    walls = ", ".join(f"{w:.2f}" for w in steady["per_scrape_wall_s"])
    full = ", ".join(str(n) for n in steady["full_gc_scrapes"]) or "none"
    return (f"{steady['scrapes']} scrapes in a row in one process (`python -m bench.scrape_once --scrapes "
            f"{steady['scrapes']}`), wall time of each in seconds: {walls}. Scrapes with a full garbage collection "
            f"(exporter/runtime/gcpause.py): {full}. The garbage collector's time per scrape, scrapes 2-"
            f"{steady['scrapes']}: {fmt_s(steady['gc_s'])}.")


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
    total_cpu = median_of(warm["total"]["cpu_s"]) or float("nan")

    def cell(stage: dict) -> str:
        return (f"{fmt_s(stage['wall_s'])}; CPU {_num(median_of(stage['cpu_s']) or 0)} s, "
                f"waited {_num(median_of(stage.get('runq_s')) or 0)} s for a CPU")

    out = [f"Staged scrape (`python -m bench.stages`, {st['runs']} runs, one per round; medians): "
           f"{warm['rows']:,} rows, {warm['documents']:,} documents, {warm['bulk_bodies']:,} `_bulk` bodies of "
           f"{warm['bulk_bytes'] / 1e6:.1f} MB in all. CPU time is the figure that does not depend on the "
           "machine's other load.", "",
           "| stage | first scrape | next scrape | share of next (CPU) |", "|---|---|---|---|"]
    for name, label in STAGE_NAMES.items():
        a, b = first["stages"][name], warm["stages"][name]
        share = (median_of(b["cpu_s"]) or 0) / total_cpu
        out.append(f"| {label} | {cell(a)} | {cell(b)} | {100 * share:.0f}% |")
        if name == "collect":
            out.append(f"| &nbsp;&nbsp;of which decode (kafka-python's parser and lagwatch's decoders, CPU) | "
                       f"{fmt_s(a['decode_cpu_s'])} | "
                       f"{fmt_s(b['decode_cpu_s'])} | {100 * (median_of(b['decode_cpu_s']) or 0) / total_cpu:.0f}% |")
            rest_a = (median_of(a["cpu_s"]) or 0) - (median_of(a["decode_cpu_s"]) or 0)
            rest_b = (median_of(b["cpu_s"]) or 0) - (median_of(b["decode_cpu_s"]) or 0)
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
        kafka_python = collect.get("offset_fetch_kafka_python_cpu_s")
        out.append("Decode CPU by API (kafka-python's parser and lagwatch's decoders): " + ", ".join(
            f"{api} {cpu:.3f} s" for api, cpu in sorted(cpu_by_api.items(), key=lambda kv: -kv[1])) + ". "
            f"Floor: the same OffsetFetch responses ({floor['offset_fetch_bytes'] / 1e6:.2f} MB, "
            f"{floor['offset_fetch_rows']:,} partition rows; kafka-python decoded "
            f"{floor['offset_fetch_rows_kafka_python']:,}) read straight from their bytes into tuples "
            f"(bench/floor.py): {fmt_s(collect['floor_cpu_s'])} CPU, against "
            f"{fmt_s(collect['offset_fetch_decode_cpu_s'])} for lagwatch's decode of them into its snapshot's "
            "committed offsets" + (f" and {fmt_s(kafka_python)} for kafka-python's decode of them into its "
                                  "objects." if kafka_python else "."))
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
            f"Delivery (`ElasticsearchSink.deliver` of the scrape's batches) {fmt_s(ix['lagwatch_wall_s'])}.")


def _growth(points: list[dict]) -> list[str]:
    out = ["| size | groups | group-partition rows | first scrape | next scrape | peak RSS | next scrape per "
           "1,000 rows | RSS per 1,000 rows | staged next: collect / lag model / time lag / statuses / `_bulk` "
           "bytes |", "|---|---|---|---|---|---|---|---|---|"]
    for point in points:
        g, st = point["lagwatch"], point.get("stages")
        rows = g["pairs"]
        warm, rss = median_of(g["warm_wall_s"]), median_of(g["peak_rss_mb"])
        staged = ""
        if st:
            staged = " / ".join(f"{median_of(st['warm']['stages'][n]['wall_s']):.2f}" for n in STAGE_NAMES) + " s"
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
        if r.get("kafka_tool", {}).get("note"):
            out.append(f"\nKafka tool: {r['kafka_tool']['note']}")
        out += ["", f"#### Rounds ({name})", ""] + _rounds(r)
        if r.get("steady"):
            out += ["", _steady(r["steady"])]
        out += ["", f"#### Where lagwatch's time goes ({name})", ""] + _stages(r["stages"])
        if "indexing" in r:
            out += ["", _indexing(r["indexing"])]
        if "growth" in r:
            out += ["", f"#### Growth ({name}: the estate's groups times 1, 2, 4 on the same broker; lagwatch)", ""]
            out += _growth(r["growth"])
    return "\n".join(out)

