"""The soak's figures: one JSON-able dict (`--json`) and its Markdown rendering (stdout; docs/reliability.md
quotes one). Every invariant is listed with its count, zeros included: the run is green when all are zero."""

from __future__ import annotations

import os
import re
from collections import Counter

from bench.soak import analysis
from bench.soak.replicas import events

INVARIANTS = {
    "understated": "a lag document (partition, topic, group) smaller than the truth without its partial marker",
    "overstated": "a lag document larger than the truth allows",
    "null_without_partial": "a lag sum left null without the partial marker",
    "known_above_truth": "a partial document's lower bound (`messages_known`) above the truth",
    "phantom": "a number for a group the driver had deleted",
    "commit_missed": "a partition said never committed while it was",
    "metrics_understated": "a /metrics `lagwatch_group_lag` below the truth",
    "metrics_overstated": "a /metrics `lagwatch_group_lag` above the truth",
    "resolved_by_unknown": "a lagwatch alert resolved at a scrape where the group's lag was partial",
    "resolved_against_truth": "a lagwatch alert resolved while the truth was above its resolve level",
    "resolved_while_group_exists": "a lagwatch alert resolved as 'no longer reported' while the group existed",
    "alert_doubled": "an alert fired twice without resolving in between (two replicas notifying)",
    "kibana_rule_dropped_partial": "a partial group document, written during a broker fault, that the Kibana rule's "
                                   "query no longer matches, for a group whose last document before the fault it matched",
    "slot_without_self": "a slot a process scraped (its log says so) without its self document in Elasticsearch",
    "slot_missing": "a slot a running process neither scraped nor recorded as skipped",
    "missing_group_doc": "a group that existed throughout a scraped slot without its group document",
    "slow_recovery": "correct values more than 2 scrapes after a fault settled",
    "lost": "a document the plain process produced that is neither in Elasticsearch nor accounted for",
    "fleet_lost_at_least": "documents the replicas produced and lost (a lower bound: they share ids)",
    "log_partial_sum_called_lag": "a scrape_done line calling a partial sum `lag`",
}


def _slope(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope per hour."""
    if len(samples) < 3 or samples[-1][0] - samples[0][0] < 60:
        return None
    n = len(samples)
    mt, mv = sum(t for t, _ in samples) / n, sum(v for _, v in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    return round(3600 * sum((t - mt) * (v - mv) for t, v in samples) / var, 2) if var else None


def _memory(replica) -> dict:
    by_inc: dict[int, list] = {}
    for t, number, rss, fds in replica.samples:
        by_inc.setdefault(number, []).append((t, rss, fds))
    if not by_inc:
        return {}
    longest = max(by_inc.values(), key=len)
    return {"rss_mb_start": round(longest[0][1], 1), "rss_mb_end": round(longest[-1][1], 1),
            "rss_mb_max": round(max(r for _, r, _ in longest), 1),
            "rss_mb_per_hour": _slope([(t, r) for t, r, _ in longest]),
            "fds_start": longest[0][2], "fds_end": longest[-1][2],
            "fds_per_hour": _slope([(t, f) for t, _, f in longest]),
            "minutes_sampled": round((longest[-1][0] - longest[0][0]) / 60, 1)}


def _pending(replica) -> int:
    spool = replica.state_dir / "spool"
    # Segments: .ndjson (batches), .jsonl (before batches).
    names = [p.name for pattern in ("*.jsonl", "*.ndjson") for p in spool.glob(pattern)]
    return sum(int(m.group(1)) for m in (re.match(r"^\d{12}-(\d+)", n) for n in names) if m)


def _scrapes(replica) -> dict:
    done = [e for inc in replica.incarnations for e in events(inc.log, "scrape_done")]
    skipped = sum(len(events(inc.log, "scrape_skipped")) for inc in replica.incarnations)
    partial = [e for e in done if e.get("partial_groups")]
    return {"scraped": len(done), "skipped": skipped, "cluster_down": sum(1 for e in done if not e.get("up")),
            "with_partial_groups": len(partial), "incarnations": len(replica.incarnations),
            "partial_sum_called_lag": sum(1 for e in partial if e.get("lag") is not None)}


def report(scope: dict) -> dict:
    """`scope`: the soak's locals at its end (bench/soak/run.py)."""
    checks, replicas, truth, faults = scope["checks"], scope["replicas"], scope["truth"], scope["faults"]
    interval_s, settle_s = scope["interval_s"], scope["settle_s"]
    made = analysis.produced(replicas)
    counts: Counter = Counter()
    counts.update(analysis.self_slots(checks, replicas, made, int(interval_s * 1000)))
    counts.update(analysis.coverage(checks, truth, replicas, faults.done, interval_s, settle_s))
    counts.update(analysis.alerts(scope["es"], checks, truth, replicas, settle_s))
    recovery, recovered = analysis.recovery(checks, truth, replicas, faults.done, interval_s, settle_s)
    counts.update(recovered)
    ledger = analysis.ledger(checks, replicas, made)
    for name, replica in replicas.all.items():
        ledger[name]["pending_at_end"] = _pending(replica)
    plain = ledger["plain"]
    plain["lost"] = max(0, plain["missing"] - sum(plain["accounted"].values()) - plain["pending_at_end"])
    scrapes = {name: _scrapes(r) for name, r in replicas.all.items()}
    invariants = {name: 0 for name in INVARIANTS}
    invariants.update(checks.violations())
    invariants.update(scope["metrics"].violations())
    invariants.update(scope["kibana"].violations())
    invariants.update({k.split(".", 1)[1]: v for k, v in counts.items() if k.startswith("violation.")})
    invariants["lost"] = plain["lost"]
    invariants["fleet_lost_at_least"] = ledger.get("fleet", {}).get("lost_at_least", 0)
    invariants["log_partial_sum_called_lag"] = sum(s["partial_sum_called_lag"] for s in scrapes.values())
    worst: dict[str, dict] = {}
    for row in recovery:
        if row["recovery_s"] is None:
            continue
        key = "judged" if not row["overlapped"] else "overlapped"
        slot = worst.setdefault(row["kind"], {})
        slot[key] = max(slot.get(key, 0), row["recovery_s"])
    by_kind = Counter(d.fault.kind for d in faults.done if d.began is not None and d.error is None)
    workload = scope["workload"]
    return {
        "ok": not any(invariants.values()),
        "seed": scope["seed"], "minutes": scope["minutes"], "interval_s": interval_s, "prefix": scope["prefix"],
        "setup_s": round(scope["t0"] - scope["started"], 1), "workdir": str(scope["workdir"]),
        "load": scope.get("load", {}), "cpus": os.cpu_count(),
        "invariants": invariants,
        "faults": {"by_kind": dict(sorted(by_kind.items())), "failed": [d.as_dict() for d in faults.done if d.error],
                   "done": [d.as_dict() for d in faults.done]},
        "scrapes": scrapes, "documents": ledger,
        "document_checks": dict(sorted(checks.counts.items())),
        "examples": {**dict(checks.examples), **{k: v[:10] for k, v in analysis.EXAMPLES.items()}},
        "figures": dict(sorted(counts.items())),
        "recovery": {"worst_s": dict(sorted(worst.items())), "faults": recovery},
        "metrics_checks": dict(scope["metrics"].counts), "metrics_examples": scope["metrics"].examples,
        "kibana_rule": dict(scope["kibana"].counts), "kibana_examples": scope["kibana"].examples,
        "memory": {name: _memory(r) for name, r in replicas.all.items()},
        "workload": {"records_produced": workload.produced, "commits": workload.commits,
                     "in_doubt": dict(workload.errors), "groups": len(truth.groups)},
        "proxy": dict(scope["stack"].proxy.counts), "drained": scope["drained"], "exit_codes": scope["codes"],
    }


def markdown(r: dict) -> str:
    lines = [f"# lagwatch soak: seed {r['seed']}, {r['minutes']:g} minutes — {'GREEN' if r['ok'] else 'RED'}", "",
             f"Scrape interval {r['interval_s']:g} s; set-up {r['setup_s']:g} s; load {r['load']}.", "",
             "| invariant | count |", "|---|---|"]
    lines += [f"| {name} | {count} |" for name, count in r["invariants"].items()]
    lines += ["", "| fault | done | worst recovery (s), alone / overlapped |", "|---|---|---|"]
    for kind, n in r["faults"]["by_kind"].items():
        w = r["recovery"]["worst_s"].get(kind, {})
        lines.append(f"| {kind} | {n} | {w.get('judged', '-')} / {w.get('overlapped', '-')} |")
    lines += ["", "| process | scrapes | skipped | with partial groups | incarnations | RSS MB start → end (per h) | "
              "open files start → end |", "|---|---|---|---|---|---|---|"]
    for name, s in r["scrapes"].items():
        m = r["memory"].get(name, {})
        lines.append(f"| {name} | {s['scraped']} | {s['skipped']} | {s['with_partial_groups']} | {s['incarnations']} | "
                     f"{m.get('rss_mb_start')} → {m.get('rss_mb_end')} ({m.get('rss_mb_per_hour')}) | "
                     f"{m.get('fds_start')} → {m.get('fds_end')} |")
    lines += ["", f"Documents: {r['documents']}", "", f"Kibana rule: {r['kibana_rule']}",
              f"/metrics: {r['metrics_checks']}", f"Workload: {r['workload']}", f"Proxy: {r['proxy']}"]
    if r["faults"]["failed"]:
        failed = [f"{f['kind']} at {f['at']}s: {str(f['error']).splitlines()[0][:160]}" for f in r["faults"]["failed"]]
        lines += ["", "Faults that could not be done (the JSON has each one's log tail):", *[f"- {f}" for f in failed]]
    return "\n".join(lines) + "\n"
