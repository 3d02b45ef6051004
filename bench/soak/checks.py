"""The documents lagwatch indexed, held to the ground truth: every lag document once, as soon as it is in
Elasticsearch (a pass every few seconds while the soak runs, and a last one after it).

A group, topic or partition document is
- `ok`: its lag lies within what the truth allows for that scrape (bench/soak/truth.py);
- `partial`: marked `lagwatch.lag.partial` (its lower bound `messages_known` must not exceed the truth);
- `uncertain`: the truth itself is not known then (a group being made or deleted, a topic deleted);
- a violation: `understated` (smaller than the truth, without the partial marker: the promise the issue is
  about), `overstated`, `null_without_partial`, `known_above_truth`, `phantom` (a number for a group the
  driver had deleted), `commit_missed` (a partition said never committed while it was).
Each document's outcome is kept (prefix, slot, group) for the coverage and recovery figures.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from exporter.output import fields
from exporter.output.fields import DocType

from bench.soak.truth import Truth, Window

VIOLATIONS = ("understated", "overstated", "null_without_partial", "known_above_truth", "phantom", "commit_missed")
LOOSE_S = 30.0  # a scrape's length when its self document is not (yet) there: only loosens the upper bound


def epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class DocChecks:
    def __init__(self, es, truth: Truth, prefixes: list[str], settle_s: float):
        self.es, self.truth, self.prefixes, self.settle_s = es, truth, prefixes, settle_s
        self.seen: set[tuple[str, str]] = set()
        self.counts: Counter = Counter()
        self.examples: dict[str, list[dict]] = defaultdict(list)
        # (prefix, slot) -> self documents; (prefix, slot) -> {group: outcome of its group document}
        self.selfs: dict[tuple[str, int], list[dict]] = defaultdict(list)
        self.groups: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
        self.per_slot: Counter = Counter()  # (prefix, slot) -> documents found

    # --- reading ------------------------------------------------------------------------------------

    def fetch(self, prefix: str, low_slot: int, high_slot: int) -> list[dict]:
        """Every lag document of `prefix` with low_slot <= slot < high_slot (halving the range when one
        search cannot return them all)."""
        index = f"{prefix}-lag"
        if not self.es.indices.exists_alias(name=index):
            return []
        self.es.indices.refresh(index=index)
        query = {"range": {fields.SLOT: {"gte": low_slot, "lt": high_slot}}}
        found = self.es.search(index=index, query=query, size=10_000, track_total_hits=True)["hits"]
        if found["total"]["value"] >= 10_000 and high_slot - low_slot > 1:
            middle = (low_slot + high_slot) // 2
            return self.fetch(prefix, low_slot, middle) + self.fetch(prefix, middle, high_slot)
        return [{"_id": h["_id"], **h["_source"]} for h in found["hits"]]

    def check_range(self, low_slot: int, high_slot: int) -> int:
        """Check every document of every prefix in the slot range not checked before; returns how many."""
        checked = 0
        for prefix in self.prefixes:
            docs = [d for d in self.fetch(prefix, low_slot, high_slot) if (prefix, d["_id"]) not in self.seen]
            for doc in sorted(docs, key=lambda d: d[fields.DOC_TYPE] != DocType.SELF):
                self.seen.add((prefix, doc["_id"]))
                self.per_slot[(prefix, doc[fields.SLOT])] += 1
                self.check(prefix, doc)
                checked += 1
        return checked

    # --- one document -------------------------------------------------------------------------------

    def window(self, prefix: str, doc: dict) -> Window:
        taken_at = epoch(doc[fields.TIMESTAMP])
        selfs = self.selfs.get((prefix, doc[fields.SLOT]), [])
        lengths = [s.get(fields.SELF_DURATION_MS) or 0 for s in selfs if s.get(fields.SELF_OUTCOME) == "scraped"]
        length = max(lengths) / 1000 if lengths else LOOSE_S
        return Window(taken_at - length, taken_at, taken_at + length)

    def _count(self, prefix: str, doc: dict, outcome: str, truth=None) -> str:
        kind = doc[fields.DOC_TYPE]
        self.counts[f"{prefix}.{kind}.{outcome}"] += 1
        if outcome in VIOLATIONS:
            self.counts[f"violation.{outcome}"] += 1
            if len(self.examples[outcome]) < 5:
                self.examples[outcome].append({
                    "prefix": prefix, "doc_type": kind, "slot": doc[fields.SLOT], "group": doc.get(fields.GROUP_ID),
                    "topic": doc.get(fields.TOPIC_NAME), "partition": doc.get(fields.PARTITION_ID),
                    "lag": doc.get(fields.LAG_MESSAGES), "partial": doc.get(fields.LAG_PARTIAL),
                    "known": doc.get(fields.LAG_MESSAGES_KNOWN), "truth": truth, "at": doc[fields.TIMESTAMP],
                })
        if kind == DocType.GROUP:
            self.groups[(prefix, doc[fields.SLOT])][doc[fields.GROUP_ID]] = outcome
        return outcome

    def check(self, prefix: str, doc: dict) -> str:
        kind = doc[fields.DOC_TYPE]
        if kind == DocType.SELF:
            self.selfs[(prefix, doc[fields.SLOT])].append(doc)
            self.counts[f"{prefix}.self.{doc.get(fields.SELF_OUTCOME)}"] += 1
            return "self"
        group = doc[fields.GROUP_ID]
        w = self.window(prefix, doc)
        known = self.truth.groups.get(group)
        partial = bool(doc.get(fields.LAG_PARTIAL))
        value = doc.get(fields.LAG_MESSAGES)
        if known is not None and known.exists(w.start, w.end, self.settle_s) is False:
            return self._count(prefix, doc, "partial" if partial or value is None else "phantom")
        if kind == DocType.PARTITION:
            truth = self._partition(doc, w)
        elif kind == DocType.TOPIC:
            truth = self._sum(group, [(t, p) for t, p in self._committed(group) if t == doc[fields.TOPIC_NAME]], w)
        else:
            truth = self.truth.group_lag(group, w, self.settle_s)
        if truth is None:
            return self._count(prefix, doc, "uncertain")
        if truth == "not committed":
            committed = doc.get(fields.COMMITTED)
            return self._count(prefix, doc, "ok" if not committed or partial else "uncertain")
        if truth == "committed" and doc.get(fields.COMMITTED) is False and not partial:
            return self._count(prefix, doc, "commit_missed")
        if truth == "committed":
            return self._count(prefix, doc, "uncertain")
        lo, hi = truth
        if partial:
            lower = doc.get(fields.LAG_MESSAGES_KNOWN, value)
            return self._count(prefix, doc, "known_above_truth" if lower is not None and lower > hi else "partial",
                               truth)
        if value is None:
            return self._count(prefix, doc, "null_without_partial", truth)
        if value < lo:
            return self._count(prefix, doc, "understated", truth)
        if value > hi:
            return self._count(prefix, doc, "overstated", truth)
        return self._count(prefix, doc, "ok", truth)

    def _committed(self, group: str) -> list[tuple[str, int]]:
        known = self.truth.groups.get(group)
        return list(known.committed) if known is not None else []

    def _sum(self, group: str, partitions: list[tuple[str, int]], w: Window):
        known = self.truth.groups.get(group)
        if known is None or known.exists(w.start, w.end, self.settle_s) is not True:
            return None
        lo = hi = 0
        for topic, partition in partitions:
            one = self.truth.partition_lag(group, topic, partition, w)
            if one is None:
                return None
            lo, hi = lo + one[0], hi + one[1]
        return lo, hi

    def _partition(self, doc: dict, w: Window):
        group, topic, partition = doc[fields.GROUP_ID], doc[fields.TOPIC_NAME], doc[fields.PARTITION_ID]
        known = self.truth.groups.get(group)
        if known is None or known.exists(w.start, w.end, self.settle_s) is not True:
            return None
        steps = known.committed.get((topic, partition))
        if steps is None or w.end < steps.born[0]:
            return "not committed"
        if doc.get(fields.COMMITTED) is False:
            return "committed" if w.start > steps.born[1] else None
        return self.truth.partition_lag(group, topic, partition, w)

    # --- figures ------------------------------------------------------------------------------------

    def violations(self) -> dict[str, int]:
        return {k.split(".", 1)[1]: v for k, v in self.counts.items() if k.startswith("violation.")}
