"""What is checked beside the documents: each process's /metrics against the truth while the soak runs, and
the shipped Kibana rule's query on the real node for every broker fault (once every document is indexed).

/metrics: a group's `lagwatch_group_lag` is the last scrape's, taken at `lagwatch_last_success_timestamp_seconds`
(the last report's time whenever it has groups) and lasting `lagwatch_scrape_duration_seconds`.

The Kibana rule (exporter/kibana/rule.py, committed as kibana/lagwatch-rule.json) is an `.es-query` rule:
each run, one alert per group with a document matching its query in the time window. So it holds an alert
through an outage only if its query matches the group's partial documents written meanwhile. For every
group whose last document before a broker fault began matched the query (its alert was on), every partial
group document written during the fault must match it too; the query is the rule's own, run on the real node,
with the soak's time-lag threshold, after the run (when every document written before the fault is in).
"""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from collections import Counter

from exporter.kibana.rule import rule
from exporter.output import fields

from bench.soak.truth import Truth, Window

SERIES = re.compile(r'^(lagwatch_[a-z_]+)(?:\{([^}]*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> dict[str, dict[tuple, float]]:
    found: dict[str, dict[tuple, float]] = {}
    for line in text.splitlines():
        match = SERIES.match(line)
        if match:
            labels = tuple(sorted(LABEL.findall(match.group(2) or "")))
            found.setdefault(match.group(1), {})[labels] = float(match.group(3))
    return found


class MetricsWatch:
    def __init__(self, replicas, truth: Truth, settle_s: float, every_s: float = 5.0):
        self.replicas, self.truth, self.settle_s, self.every_s = replicas, truth, settle_s, every_s
        self.counts: Counter = Counter()
        self.examples: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-metrics", daemon=True)

    def start(self) -> MetricsWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=20)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            for name, replica in self.replicas.all.items():
                port = self.replicas.port(name) if replica.alive else None
                if port is None:
                    continue
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                        self.check(name, parse(answer.read().decode()))
                except OSError:
                    self.counts["unreachable"] += 1

    def check(self, name: str, series: dict[str, dict[tuple, float]]) -> None:
        taken = next(iter(series.get("lagwatch_last_success_timestamp_seconds", {}).values()), None)
        length = next(iter(series.get("lagwatch_scrape_duration_seconds", {}).values()), None)
        if taken is None or length is None:
            return
        w = Window(taken - length, taken, taken + length)
        for labels, value in series.get("lagwatch_group_lag", {}).items():
            group = dict(labels)["group"]
            truth = self.truth.group_lag(group, w, self.settle_s)
            if truth is None:
                self.counts["uncertain"] += 1
                continue
            outcome = "ok" if truth[0] <= value <= truth[1] else "understated" if value < truth[0] else "overstated"
            self.counts[outcome] += 1
            if outcome != "ok" and len(self.examples) < 5:
                self.examples.append({"process": name, "group": group, "value": value, "truth": truth, "at": taken})
        self.counts["partial"] += sum(1 for v in series.get("lagwatch_group_lag_partial", {}).values() if v)

    def violations(self) -> dict[str, int]:
        return {f"metrics_{k}": v for k, v in self.counts.items() if k in ("understated", "overstated")}


class KibanaWatch:
    """Broker faults are recorded while the soak runs and the rule's query is run for each of them at the end,
    once every document is in Elasticsearch (`finish`). Run at the fault's start, "the group's last document
    before the fault" was the last one *indexed* by then: with Elasticsearch rejecting or down before the
    fault, that was tens of seconds older than the last one written, and could still match after the alert
    had resolved on a newer one (run 2 counted 16 such documents as dropped)."""

    def __init__(self, es, prefixes: list[str], threshold_s: float, interval_s: float):
        self.es, self.prefixes, self.interval_s = es, prefixes, interval_s
        self.threshold_s = threshold_s
        self.counts: Counter = Counter()
        self.examples: list[dict] = []
        self.faults: list[tuple[str, float, float]] = []  # (what was hit, began, until)

    def query(self, prefix: str) -> tuple[list[str], dict]:
        params = rule(prefix=prefix, time_lag_seconds=self.threshold_s)["params"]
        return params["index"], json.loads(params["esQuery"])["query"]

    @staticmethod
    def _window(start: float, end: float) -> dict:
        return {"range": {fields.TIMESTAMP: {"gte": int(start * 1000), "lte": int(end * 1000), "format": "epoch_millis"}}}

    def _search(self, index, query, start: float, end: float, *extra) -> dict[str, int]:
        body = {"bool": {"filter": [query, self._window(start, end), *extra]}}
        aggs = {"groups": {"terms": {"field": fields.GROUP_ID, "size": 1000}}}
        answer = self.es.search(index=index, query=body, size=0, aggs=aggs, request_timeout=30)
        return {b["key"]: b["doc_count"] for b in answer["aggregations"]["groups"]["buckets"]}

    def _last(self, index, start: float, end: float) -> dict[str, dict]:
        """Each group's last group document in [start, end]."""
        last = {"bool": {"filter": [{"term": {fields.DOC_TYPE: "group"}}, self._window(start, end)]}}
        aggs = {"groups": {"terms": {"field": fields.GROUP_ID, "size": 1000}, "aggs": {
            "last": {"top_hits": {"size": 1, "sort": [{fields.TIMESTAMP: "desc"}]}}}}}
        answer = self.es.search(index=index, query=last, size=0, aggs=aggs, request_timeout=30)
        found = {}
        for bucket in answer["aggregations"]["groups"]["buckets"]:
            hit = bucket["last"]["hits"]["hits"][0]
            found[bucket["key"]] = {"_id": hit["_id"], **hit["_source"]}
        return found

    def _matched(self, index, query, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        body = {"bool": {"filter": [query, {"ids": {"values": ids}}]}}
        answer = self.es.search(index=index, query=body, size=len(ids), _source=False, request_timeout=30)
        return {h["_id"] for h in answer["hits"]["hits"]}

    def __call__(self, record, until: float) -> None:
        """Run by a broker fault's thread when the fault begins: remembered for `finish`."""
        self.faults.append((record.hit, record.began, until))

    def finish(self) -> None:
        """For every broker fault: the groups whose last group document before it matched the rule's query
        (their alert was on), and whether the query matched every partial group document of theirs written
        during the fault."""
        for hit, began, until in self.faults:
            for prefix in self.prefixes:
                try:
                    self._one(prefix, hit, began, until)
                except Exception as exc:  # noqa: BLE001 - counted, never hidden
                    self.counts["unavailable"] += 1
                    self.examples.append({"prefix": prefix, "fault": hit, "error": f"{type(exc).__name__}: {exc}"})

    def _one(self, prefix: str, hit: str, began: float, until: float) -> None:
        index, query = self.query(prefix)
        before = self._last(index, began - 60, began)
        on = self._matched(index, query, [d["_id"] for d in before.values()])
        firing = {g: d for g, d in before.items() if d["_id"] in on}
        if not firing:
            self.counts["idle"] += 1  # nothing fired before: nothing to hold
            return
        partial_docs = {"bool": {"filter": [{"term": {fields.DOC_TYPE: "group"}}, {"term": {fields.LAG_PARTIAL: True}},
                                            {"terms": {fields.GROUP_ID: sorted(firing)}}, self._window(began, until)]}}
        hits = self.es.search(index=index, query=partial_docs, size=10_000, request_timeout=30)["hits"]["hits"]
        held = self._matched(index, query, [h["_id"] for h in hits])
        self.counts["firing_groups"] += len(firing)
        for h in hits:
            self.counts["partial_docs"] += 1
            if h["_id"] in held:
                self.counts["partial_docs_matched"] += 1
                continue
            self.counts["dropped"] += 1
            if len(self.examples) < 10:
                doc, last = h["_source"], firing[h["_source"][fields.GROUP_ID]]
                self.examples.append({
                    "prefix": prefix, "fault": hit, "group": doc[fields.GROUP_ID],
                    "dropped": {"slot": doc[fields.SLOT], "at": doc[fields.TIMESTAMP],
                                "seconds_last_known": doc.get(fields.LAG_SECONDS_LAST_KNOWN)},
                    "last_before": {"slot": last[fields.SLOT], "at": last[fields.TIMESTAMP],
                                    "seconds": last.get(fields.LAG_SECONDS), "partial": last.get(fields.LAG_PARTIAL),
                                    "seconds_last_known": last.get(fields.LAG_SECONDS_LAST_KNOWN)},
                    "writers": self._writers(index, doc[fields.SLOT]),
                })

    def _writers(self, index, slot: int) -> list:
        """The processes that scraped `slot` into this index (their self documents): replicas write the same
        group document ids, so a group document is the reading of whichever of them was indexed last."""
        body = {"bool": {"filter": [{"term": {fields.DOC_TYPE: "self"}}, {"term": {fields.SLOT: slot}}]}}
        hits = self.es.search(index=index, query=body, size=10, request_timeout=30)["hits"]["hits"]
        return [(h["_source"].get(fields.SELF_INSTANCE), h["_source"].get(fields.SELF_PARTIAL_GROUPS),
                 h["_source"].get(fields.SELF_SHARDS)) for h in hits]

    def violations(self) -> dict[str, int]:
        return {"kibana_rule_dropped_partial": self.counts["dropped"]}
