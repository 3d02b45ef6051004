"""The figures computed once everything is indexed: every slot's `self` document, every live group's document
in every scraped slot, every document produced accounted for, the alert transitions, and how long lagwatch
took to be right again after each fault.

Produced documents come from each process's own log (`scrape_done documents=N slot=S`, `scrape_skipped`),
written before a SIGKILL can take them; what became of them, from Elasticsearch and from the log events
that account for a document not indexed (rejected, dropped, dead-lettered).
"""

from __future__ import annotations

from collections import Counter, defaultdict

from exporter.output import fields

from bench.soak.checks import DocChecks
from bench.soak.replicas import PLAIN, Replicas, events
from bench.soak.truth import Truth, Window

# Log events that account for documents not indexed, and the field holding how many.
ACCOUNTED = {"documents_rejected": "rejected", "spool_dropped": "dropped", "documents_dropped": "dropped",
             "spool_write_failed": "dropped", "spool_segment_corrupt": "dropped", "spool_dead_lettered": "dead_lettered"}
EXAMPLES: dict[str, list] = defaultdict(list)  # the first few of each violation found here, for the report
FLEET_FAULTS = ("broker_kill", "broker_freeze", "broker_restart", "lagwatch_kill", "replica_kill_forever")


def produced(replicas: Replicas) -> dict[str, list[dict]]:
    """Per process, per incarnation: its slots {slot: documents}, accounted documents, first and last slot."""
    found: dict[str, list[dict]] = {}
    for name, replica in replicas.all.items():
        found[name] = []
        for inc in replica.incarnations:
            slots: dict[int, int] = {}
            accounted: Counter = Counter()
            for event in events(inc.log):
                kind = event.get("event")
                if kind == "scrape_done" and event.get("slot") is not None:
                    slots[event["slot"]] = max(slots.get(event["slot"], 0), event.get("documents", 0))
                elif kind == "scrape_skipped":
                    slots[event["slot"]] = max(slots.get(event["slot"], 0), 1)
                elif kind in ACCOUNTED:
                    accounted[ACCOUNTED[kind]] += event.get("documents") or event.get("unreadable") or 0
            found[name].append({"incarnation": inc.number, "slots": slots, "accounted": dict(accounted),
                                "how": inc.how, "started": inc.started, "ended": inc.ended})
    return found


def self_slots(checks: DocChecks, replicas: Replicas, made: dict[str, list[dict]], interval_ms: int) -> Counter:
    """Every slot an incarnation lived through has its self document (scraped or skipped) in Elasticsearch."""
    counts: Counter = Counter()
    for name, incarnations in made.items():
        prefix = replicas.all[name].index_prefix
        for inc in incarnations:
            if not inc["slots"]:
                continue
            first, last = min(inc["slots"]), max(inc["slots"])
            for slot in range(first, last + 1, interval_ms):
                has = any(d.get(fields.SELF_INSTANCE) == name for d in checks.selfs.get((prefix, slot), []))
                if has:
                    counts["slots_with_self"] += 1
                elif slot in inc["slots"]:
                    counts["violation.slot_without_self"] += 1  # scraped (logged) but its self document is not there
                    EXAMPLES["slot_without_self"].append({"process": name, "incarnation": inc["incarnation"], "slot": slot})
                else:
                    counts["violation.slot_missing"] += 1  # neither scraped nor recorded as skipped
    return counts


def ledger(checks: DocChecks, replicas: Replicas, made: dict[str, list[dict]]) -> dict[str, dict]:
    """The plain process alone writes its index, in slots no other process shares: exact accounting. The
    replicas share one index (the same ids for a group scraped by both in a slot), so for them: produced,
    distinct documents indexed, and a lower bound of what was lost (slots with fewer documents than one
    replica alone produced)."""
    out = {}
    for name in replicas.all:
        prefix = replicas.all[name].index_prefix
        accounted = Counter()
        for inc in made[name]:
            accounted.update(inc["accounted"])
        out[name] = {"produced": sum(sum(i["slots"].values()) for i in made[name]), "accounted": dict(accounted)}
    per_slot: dict[str, dict[int, int]] = defaultdict(dict)
    for name, incarnations in made.items():
        for inc in incarnations:
            for slot, n in inc["slots"].items():
                per_slot[name][slot] = max(per_slot[name].get(slot, 0), n)
    plain = replicas.all[PLAIN].index_prefix
    missing = sum(max(0, n - checks.per_slot.get((plain, s), 0)) for s, n in per_slot[PLAIN].items())
    found = sum(min(n, checks.per_slot.get((plain, s), 0)) for s, n in per_slot[PLAIN].items())
    accounted = sum(out[PLAIN]["accounted"].values())
    out[PLAIN].update(indexed=found, missing=missing, lost=max(0, missing - accounted),
                      unlogged=sum(v for (p, s), v in checks.per_slot.items() if p == plain and s not in per_slot[PLAIN]))
    fleet = [n for n in replicas.all if n != PLAIN]
    if fleet:
        prefix = replicas.all[fleet[0]].index_prefix
        slots = set().union(*(per_slot[n] for n in fleet))
        short = sum(max(0, max(per_slot[n].get(s, 0) for n in fleet) - checks.per_slot.get((prefix, s), 0))
                    for s in slots)
        accounted = sum(sum(out[n]["accounted"].values()) for n in fleet)
        out["fleet"] = {"produced": sum(out[n]["produced"] for n in fleet),
                        "indexed_distinct": sum(v for (p, _), v in checks.per_slot.items() if p == prefix),
                        "lost_at_least": max(0, short - accounted)}
    return out


def coverage(checks: DocChecks, truth: Truth, replicas: Replicas, faults: list, interval_s: float,
             settle_s: float) -> Counter:
    """In every slot a process scraped with the cluster up, every group that certainly existed throughout has
    its group document. For the replicas, a group missing within a fleet disruption (a replica killed, a
    broker down: its shards move after the session timeout) is counted apart."""
    counts: Counter = Counter()
    interval_ms = int(interval_s * 1000)
    disrupted = [(f.began, (f.settled or f.ended or f.began) + 6 + 2 * interval_s) for f in faults
                 if f.began is not None and f.fault.kind in FLEET_FAULTS]
    prefixes = {r.index_prefix for r in replicas.all.values()}
    for (prefix, slot), selfs in checks.selfs.items():
        if prefix not in prefixes or not any(d.get(fields.SELF_OUTCOME) == "scraped" and d.get(fields.SELF_UP)
                                             for d in selfs):
            continue
        start = slot / 1000
        live = truth.live_groups(start, start + interval_s, settle_s)
        have = checks.groups.get((prefix, slot), {})
        for group in live:
            if group in have:
                counts["group_docs_present"] += 1
            elif prefix.endswith("-fleet") and any(a <= start <= b for a, b in disrupted):
                counts["missing_during_failover"] += 1
            elif prefix.endswith("-fleet") and _unowned(selfs):
                counts["missing_unowned_recorded"] += 1  # the self documents say no replica owned every shard
            elif _unlisted(selfs) and group not in checks.groups.get((prefix, slot - interval_ms), {}):
                # A broker did not list its groups and the process had not reported the group the slot before
                # (just started): it cannot know the group; its self document records the failed ListGroups.
                counts["missing_unlisted_recorded"] += 1
            else:
                counts["violation.missing_group_doc"] += 1
                EXAMPLES["missing_group_doc"].append({"prefix": prefix, "slot": slot, "group": group,
                                                      "self": [(d.get(fields.SELF_INSTANCE), d.get(fields.SELF_GROUPS))
                                                               for d in selfs]})
    return counts


def _unlisted(selfs: list[dict]) -> bool:
    """A self document of the slot records a broker that did not answer ListGroups."""
    return any(m.startswith("broker ") and "ListGroups" in m for d in selfs for m in d.get(fields.SELF_ERROR_MESSAGES) or ())


def _unowned(selfs: list[dict]) -> bool:
    """The replicas' self documents of one slot say some shard had no owner (a replica starting, a rebalance)."""
    owned: set = set()
    total = 0
    for doc in selfs:
        owned |= set(doc.get(fields.SELF_SHARDS) or ())
        total = max(total, doc.get(fields.SELF_SHARDS_TOTAL) or 0)
    return len(owned) < total


def resolvers(replicas: Replicas) -> dict[str, list[tuple[float, str]]]:
    """alert id -> (time logged, process) of every `alert_resolved` line."""
    found: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for name, replica in replicas.all.items():
        for inc in replica.incarnations:
            for event in events(inc.log, "alert_resolved"):
                found[event["alert"]].append((event["_t"], name))
    return found


def alerts(es, checks: DocChecks, truth: Truth, replicas: Replicas, settle_s: float) -> Counter:
    """Each resolved transition: the resolving process's reading of the group in that scrape was whole, and
    the truth then allowed a value below the rule's resolve level; firing and resolved alternate per alert."""
    counts: Counter = Counter()
    levels = {r["name"]: r.get("resolve_below") for r in replicas.all[PLAIN].settings["alerts"]["rules"]}
    logged = resolvers(replicas)
    for prefix in sorted({r.index_prefix for r in replicas.all.values()}):
        index = f"{prefix}-alerts"
        if not es.indices.exists_alias(name=index):
            continue
        es.indices.refresh(index=index)
        hits = es.search(index=index, size=10_000, sort=[{fields.TIMESTAMP: "asc"}])["hits"]["hits"]
        names = [n for n, r in replicas.all.items() if r.index_prefix == prefix]
        state: dict[str, str] = {}
        for hit in hits:
            doc = hit["_source"]
            alert, kind = doc[fields.ALERT_ID], doc[fields.ALERT_TRANSITION]
            counts[f"{prefix}.{kind}"] += 1
            if kind == "fired":
                if state.get(alert) == "firing":
                    counts["violation.alert_doubled"] += 1
                state[alert] = "firing"
            elif kind == "resolved":
                state[alert] = "resolved"
                by = _resolver(logged.get(alert, []), names, doc)
                counts.update(_resolution(checks, truth, prefix, doc, levels, settle_s, by))
    return counts


def _resolver(logged: list[tuple[float, str]], names: list[str], doc: dict) -> str | None:
    """The process that resolved the alert: the one whose log says so nearest after the transition's time
    (the scrape's; the line is written once its documents are handed over)."""
    from bench.soak.checks import epoch

    at = epoch(doc[fields.TIMESTAMP])
    near = [(t - at, name) for t, name in logged if name in names and -1 <= t - at <= 60]
    return min(near)[1] if near else None


def _resolution(checks: DocChecks, truth: Truth, prefix: str, doc: dict, levels: dict, settle_s: float,
                by: str | None) -> Counter:
    """The scrape an alert resolved on is the resolving process's latest one that began before the
    transition. That process's reading is what counts: two replicas scraping a group in the same slot (the
    old owner lingers after a rebalance, exporter/coordination/ownership.py) write one document id, so the
    group document Elasticsearch holds for the slot may be the other's. The process's own self document of
    the slot says whether any of its groups was partial; only when some was does its group document decide
    (partial, or the self document's errors naming the group: resolved by an unknown)."""
    from bench.soak.checks import epoch

    at, group = epoch(doc[fields.TIMESTAMP]), doc[fields.GROUP_ID]
    if doc.get(fields.ALERT_MESSAGE, "").endswith("no longer reported: resolved"):
        known = truth.groups.get(group)
        gone = known is not None and known.exists(at - 1, at, settle_s) is False
        if not gone:
            EXAMPLES["resolved_while_group_exists"].append({"prefix": prefix, "alert": doc[fields.ALERT_ID],
                                                            "at": doc[fields.TIMESTAMP], "by": by})
        return Counter({"resolved_gone": 1} if gone else {"violation.resolved_while_group_exists": 1})
    mine = {s: d for (p, s), docs in checks.selfs.items() if p == prefix and s / 1000 <= at
            for d in docs if by is not None and d.get(fields.SELF_INSTANCE) == by
            and d.get(fields.SELF_OUTCOME) == "scraped"}
    slots = [s for (p, s), g in checks.groups.items() if p == prefix and group in g and s / 1000 <= at]
    if not slots and not mine:
        return Counter({"resolved_unchecked": 1})
    slot = max(mine) if mine else max(slots)
    own = mine.get(slot)
    outcome = checks.groups.get((prefix, slot), {}).get(group)
    named = any(m.startswith(f"group {group}:") for m in (own or {}).get(fields.SELF_ERROR_MESSAGES) or ())
    whole = own is not None and not own.get(fields.SELF_PARTIAL_GROUPS) and not named
    if not whole and (outcome == "partial" or named):
        EXAMPLES["resolved_by_unknown"].append({
            "prefix": prefix, "alert": doc[fields.ALERT_ID], "at": doc[fields.TIMESTAMP], "by": by, "slot": slot,
            "group_doc": outcome, "self": None if own is None else {
                "partial_groups": own.get(fields.SELF_PARTIAL_GROUPS),
                "errors": [m for m in own.get(fields.SELF_ERROR_MESSAGES) or () if group in m][:3]},
            "writers": sorted(d.get(fields.SELF_INSTANCE) for d in checks.selfs.get((prefix, slot), []))})
        return Counter({"violation.resolved_by_unknown": 1})
    level = levels.get(doc[fields.ALERT_RULE])
    if doc[fields.ALERT_METRIC] == "lag" and level is not None:
        lag = truth.group_lag(group, Window(at - 1, at, at + 1), settle_s)
        if lag is not None and lag[0] >= level:
            return Counter({"violation.resolved_against_truth": 1})
    if whole and outcome == "partial":
        return Counter({"resolved_checked_other_writer": 1})  # the document is another process's reading
    return Counter({"resolved_checked": 1})


def recovery(checks: DocChecks, truth: Truth, replicas: Replicas, faults: list, interval_s: float,
             settle_s: float) -> tuple[list[dict], Counter]:
    """Per fault: the first slot, after it ended, in which every live group's document was whole and right
    (per index it touches); measured unless another fault began first. Slower than 2 scrapes after it
    settled (3 intervals: the next slot may begin up to one interval later) is a violation."""
    counts: Counter = Counter()
    rows = []
    begins = sorted(f.began for f in faults if f.began is not None)
    for f in faults:
        if f.ended is None:
            continue
        target = f.fault.target
        prefixes = [replicas.all[target].index_prefix] if target in replicas.all else sorted(
            {r.index_prefix for r in replicas.all.values()})
        later = [b for b in begins if b > f.began]
        cleans = [_first_clean(checks, truth, p, f.ended, interval_s, settle_s) for p in prefixes]
        clean = None if None in cleans else max(cleans)
        overlapped = clean is None or any(b < clean for b in later)
        row = {"kind": f.fault.kind, "hit": f.hit, "ended": f.ended, "settled": f.settled, "clean_at": clean,
               "recovery_s": None if clean is None else round(clean - f.ended, 1), "overlapped": overlapped}
        if clean is None:
            counts["recovery_never_clean"] += 1
        elif overlapped:
            counts["recovery_overlapped"] += 1  # another fault began first: measured, not judged
        else:
            counts["recovery_measured"] += 1
            if clean - max(f.settled or f.ended, f.ended) > 3 * interval_s:
                counts["violation.slow_recovery"] += 1
                row["slow"] = True
        rows.append(row)
    return rows, counts


def _first_clean(checks: DocChecks, truth: Truth, prefix: str, after: float, interval_s: float,
                 settle_s: float) -> float | None:
    slots = sorted(s for p, s in checks.selfs if p == prefix and s / 1000 >= after)
    for slot in slots:
        start = slot / 1000
        live = truth.live_groups(start, start + interval_s, settle_s)
        have = checks.groups.get((prefix, slot), {})
        if live and all(have.get(g) in ("ok", "uncertain") for g in live) and any(have.get(g) == "ok" for g in live):
            return start
    return None
