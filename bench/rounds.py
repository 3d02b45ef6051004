"""The measured rounds on one estate: lagwatch, the staged scrape and every running peer, alternating, with
per-round ratios; and the growth curve (the estate's groups times each factor on the same broker)."""

from __future__ import annotations

import dataclasses

from bench import estate, peer_run
from bench.contenders import lagwatch_once, measure_lagwatch, stages_once, summarize_lagwatch, summarize_stages
from bench.estate_spec import EstateSpec
from bench.measure import load1, log, spread


def rounds(bootstrap: str, spec: EstateSpec, args, peer_setup: dict, expected: int | None) -> dict:
    """Alternating rounds on one broker: each round runs lagwatch (a fresh process: first and next scrape),
    the staged scrape, and one steady-state full scrape of every running peer; odd rounds in reverse order.
    Ratios are taken within a round (peer time / lagwatch time), so load that changes between rounds cancels."""
    out: dict = {}
    running: dict[str, peer_run.Running] = {}
    for name in args.peers:
        state = peer_setup.get(name) or {"ok": False, "why": "not set up"}
        if not state["ok"]:
            out[name] = {"ran": False, "why": state["why"]}
            continue
        log(f"== {spec.name}: starting {name}")
        try:
            running[name] = peer_run.start(name, state, bootstrap, spec, args.peer_timeout_s, log, expected)
        except peer_run.PeerFailed as exc:
            out[name] = {"ran": False, "why": str(exc)}
            log(f"{name} did not run: {exc}")
    ready = {name: r.full_view_s for name, r in running.items()}
    lagwatch_rows, stage_rows, table = [], [], []
    peer_rows: dict[str, list[dict]] = {name: [] for name in running}
    try:
        for index in range(args.runs):
            order = ["lagwatch", "stages", *running]
            if index % 2:
                order.reverse()
            log(f"== {spec.name}: round {index + 1}/{args.runs} ({', '.join(order)})")
            row: dict = {"round": index + 1, "order": order, "load1": load1()}
            for who in order:
                if who == "lagwatch":
                    got = lagwatch_once(bootstrap, spec.prefix)
                    lagwatch_rows.append(got)
                    row.update(lagwatch_first_s=got["wall_s"], lagwatch_next_s=got["warm_wall_s"],
                               lagwatch_next_runq_s=got["warm_runq_s"], lagwatch_next_cpu_s=got["warm_cpu_s"])
                elif who == "stages":
                    got = stages_once(bootstrap)
                    stage_rows.append(got)
                    row["staged_next_s"] = got["warm"]["total"]["wall_s"]
                elif who in running:
                    try:
                        got = running[who].scrape(spec.prefix, args.peer_timeout_s)
                    except peer_run.PeerFailed as exc:
                        out[who] = {"ran": False, "why": f"round {index + 1}: {exc}"}
                        running.pop(who).stop()
                        log(f"{who} stopped: {exc}")
                        continue
                    peer_rows[who].append(got)
                    row[f"{who}_s"] = got["wall_s"]
                    row[f"{who}_cpu_s"] = got["cpu_s"]
                    log(f"{who}: {got['wall_s']:.2f}s, {got['rows']:,} rows, {got['groups']:,} groups, "
                        f"lag {got['lag']:,}")
            for name in peer_rows:
                if f"{name}_s" in row:
                    row[f"{name}_ratio_next"] = row[f"{name}_s"] / row["lagwatch_next_s"]
                    row[f"{name}_ratio_first"] = row[f"{name}_s"] / row["lagwatch_first_s"]
                    row[f"{name}_ratio_cpu"] = row[f"{name}_cpu_s"] / row["lagwatch_next_cpu_s"]
                    if "staged_next_s" in row:
                        row[f"{name}_ratio_staged"] = row[f"{name}_s"] / row["staged_next_s"]
            table.append(row)
    finally:
        rss = {name: r.stop() for name, r in running.items()}
    out["lagwatch"] = summarize_lagwatch(lagwatch_rows)
    out["stages"] = summarize_stages(stage_rows)
    out["rounds"] = table
    for name, got in peer_rows.items():
        if name in out:  # it failed in a later round: its row says why
            continue
        state = peer_setup[name]
        ratios = {k: spread([r[f"{name}_ratio_{k}"] for r in table if f"{name}_ratio_{k}" in r])
                  for k in ("next", "first", "staged", "cpu")}
        out[name] = {
            "ran": True, "version": state.get("version", ""), "how": state.get("how"),
            "what": "one full /metrics" + (" (from memory, once it holds the estate)" if name == "burrow" else ""),
            "wall_s": spread([g["wall_s"] for g in got]), "cpu_s": spread([g["cpu_s"] for g in got]),
            "peak_rss_mb": spread([rss.get(name, float("nan"))]),
            "rows": got[-1]["rows"], "groups_seen": got[-1]["groups"], "lag": got[-1]["lag"],
            "metrics_bytes": got[-1]["bytes"], "ratio": ratios,
            "ready_s": ready.get(name),  # start until /metrics first served the estate (Burrow: all of it)
        }
    return out


def growth(bootstrap: str, spec: EstateSpec, args) -> list[dict]:
    """lagwatch at 1x, 2x, 4x ... the estate's groups on the same broker: groups are added, the topics
    stay (partitions per broker are bounded by vm.max_map_count, see RESULTS.md). One staged scrape per size
    shows which stage grows."""
    points = []
    built = spec.groups
    for factor in args.growth:
        grown = dataclasses.replace(spec, name=f"{spec.name}x{factor:g}", groups=round(spec.groups * factor))
        if grown.groups > built:
            estate.build(bootstrap, grown, progress=lambda m: log(f"estate {grown.name}: {m}"),
                          groups_from=built)
            built = grown.groups
        log(f"== growth {grown.name}: {grown.describe()}")
        measured = measure_lagwatch(bootstrap, max(1, min(args.runs, args.growth_runs)), spec.prefix)
        staged = summarize_stages([stages_once(bootstrap)])
        points.append({"factor": factor, "describe": grown.describe(), "groups": grown.groups,
                       "pairs": grown.pairs, "lagwatch": measured, "stages": staged})
    return points

