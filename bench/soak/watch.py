"""What is checked while the soak runs, beside the documents: each process's /metrics against the truth, and
the shipped Kibana rule's query on the real node while a broker is down or frozen.

/metrics: a group's `lagwatch_group_lag` is the last scrape's, taken at `lagwatch_last_success_timestamp_seconds`
(the last report's time whenever it has groups) and lasting `lagwatch_scrape_duration_seconds`.

The Kibana rule (exporter/kibana/rule.py, committed as kibana/lagwatch-rule.json) is an `.es-query` rule:
each run, one alert per group with a document matching its query in the time window. So it holds an alert
through an outage only if its query matches the group's partial documents written meanwhile. For every
group whose last document before a broker fault began matched the query (its alert was on), every partial
group document written during the fault must match it too; the query is the rule's own, run on the real node,
with the soak's time-lag threshold.
"""

from __future__ import annotations

import json
import re
import threading
import time
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
    def __init__(self, es, prefixes: list[str], threshold_s: float, interval_s: float):
        self.es, self.prefixes, self.interval_s = es, prefixes, interval_s
        self.threshold_s = threshold_s
        self.counts: Counter = Counter()
        self.examples: list[dict] = []

    def query(self, prefix: str) -> tuple[list[str], dict]:
        params = rule(prefix=prefix, time_lag_seconds=self.threshold_s)["params"]
        return params["index"], json.loads(params["esQuery"])["query"]

    def _search(self, index, query, start: float, end: float, *extra) -> dict[str, int]:
        window = {"range": {fields.TIMESTAMP: {"gte": int(start * 1000), "lte": int(end * 1000),
                                               "format": "epoch_millis"}}}
        body = {"bool": {"filter": [query, window, *extra]}}
        aggs = {"groups": {"terms": {"field": fields.GROUP_ID, "size": 1000}}}
        answer = self.es.search(index=index, query=body, size=0, aggs=aggs, request_timeout=10)
        return {b["key"]: b["doc_count"] for b in answer["aggregations"]["groups"]["buckets"]}

    def _last_matched(self, index, query, start: float, end: float) -> dict[str, int]:
        """The groups whose last group document in [start, end] matches the query."""
        window = {"range": {fields.TIMESTAMP: {"gte": int(start * 1000), "lte": int(end * 1000),
                                               "format": "epoch_millis"}}}
        last = {"bool": {"filter": [{"term": {fields.DOC_TYPE: "group"}}, window]}}
        aggs = {"groups": {"terms": {"field": fields.GROUP_ID, "size": 1000}, "aggs": {
            "last": {"top_hits": {"size": 1, "sort": [{fields.TIMESTAMP: "desc"}], "_source": False}}}}}
        answer = self.es.search(index=index, query=last, size=0, aggs=aggs, request_timeout=10)
        ids = [b["last"]["hits"]["hits"][0]["_id"] for b in answer["aggregations"]["groups"]["buckets"]]
        if not ids:
            return {}
        return self._search(index, query, start, end, {"ids": {"values": ids}})

    def __call__(self, record, until: float) -> None:
        """Run by a broker fault's thread: which groups the rule matched before, then (after the fault, once its
        documents are in) whether it matched every one of their partial documents written meanwhile."""
        began = record.began
        try:
            before = {p: self._last_matched(*self.query(p), began - 60, began) for p in self.prefixes}
        except Exception:  # noqa: BLE001 - the node may be down too (faults overlap)
            self.counts["unavailable"] += 1
            return
        time.sleep(max(0.0, until - time.time()))
        threading.Thread(target=self._after, args=(record, before, began, until), daemon=True).start()

    def _after(self, record, before: dict, began: float, until: float) -> None:
        time.sleep(2 * self.interval_s)
        partial_only = {"term": {fields.LAG_PARTIAL: True}}
        for prefix, groups in before.items():
            if not groups:
                self.counts["idle"] += 1  # nothing fired before: nothing to hold
                continue
            index, query = self.query(prefix)
            try:
                group_docs = {"term": {fields.DOC_TYPE: "group"}}
                partial = self._search(index, group_docs, began, until, partial_only)
                held = self._search(index, query, began, until, partial_only)
            except Exception:  # noqa: BLE001
                self.counts["unavailable"] += 1
                continue
            for group in groups:
                docs, matched = partial.get(group, 0), held.get(group, 0)
                self.counts["firing_groups"] += 1
                self.counts["partial_docs"] += docs
                self.counts["partial_docs_matched"] += matched
                if docs > matched:
                    self.counts["dropped"] += docs - matched
                    if len(self.examples) < 5:
                        self.examples.append({"prefix": prefix, "group": group, "fault": record.hit,
                                              "partial_docs": docs, "matched": matched})

    def violations(self) -> dict[str, int]:
        return {"kibana_rule_dropped_partial": self.counts["dropped"]}
