"""The soak's checker (bench/soak) on hand-made documents: an alert resolution is judged on the resolving
process's own reading, and the Kibana rule's hold is judged on every document written before the fault.
Both were wrong in run 2 of issue #26 (docs/reliability.md)."""

from __future__ import annotations

from collections import Counter

from exporter.output import fields

from bench.soak import analysis
from bench.soak.checks import DocChecks
from bench.soak.truth import Truth
from bench.soak.watch import KibanaWatch

PREFIX = "soak-fleet"
SLOT = 1_800_000_000_000
GROUP = "stall-0"
AT = "2027-01-15T08:00:00.300Z"  # 0.3 s into SLOT's scrape


def _self(instance: str, partial_groups: int, errors: tuple[str, ...] = ()) -> dict:
    return {fields.DOC_TYPE: "self", fields.SLOT: SLOT, fields.SELF_INSTANCE: instance,
            fields.SELF_OUTCOME: "scraped", fields.SELF_PARTIAL_GROUPS: partial_groups,
            fields.SELF_ERROR_MESSAGES: list(errors)}


def _resolved(selfs: list[dict], group_doc: str, by: str | None) -> Counter:
    checks = DocChecks(es=None, truth=Truth(), prefixes=[PREFIX], settle_s=12)
    checks.selfs[(PREFIX, SLOT)] = selfs
    checks.groups[(PREFIX, SLOT)] = {GROUP: group_doc}
    doc = {fields.TIMESTAMP: AT, fields.GROUP_ID: GROUP, fields.ALERT_MESSAGE: "lag_seconds of stall-0 is 0 s",
           fields.ALERT_RULE: "soak-seconds", fields.ALERT_METRIC: "lag_seconds", fields.ALERT_ID: "soak-seconds/x"}
    return analysis._resolution(checks, Truth(), PREFIX, doc, {}, 12, by)


def test_a_resolution_on_a_whole_reading_holds_when_the_lingering_replica_wrote_the_slots_document():
    # Run 2: fleet-b resolved on its whole reading; fleet-a, still lingering on the revoked shard, wrote the same
    # document id with a partial reading (NotCoordinator), and Elasticsearch kept fleet-a's.
    found = _resolved([_self("fleet-b", 0), _self("fleet-a", 2, (f"group {GROUP}: OffsetFetch: NotCoordinatorError",))],
                      "partial", by="fleet-b")
    assert found == Counter({"resolved_checked_other_writer": 1})


def test_a_resolution_on_a_partial_reading_is_resolved_by_an_unknown():
    found = _resolved([_self("fleet-b", 1, (f"group {GROUP}: OffsetFetch: NotCoordinatorError",))], "ok", by="fleet-b")
    assert found == Counter({"violation.resolved_by_unknown": 1})


def test_a_resolution_of_a_single_writer_whose_document_is_partial_is_resolved_by_an_unknown():
    assert _resolved([_self("plain", 3)], "partial", by="plain") == Counter({"violation.resolved_by_unknown": 1})
    assert _resolved([_self("plain", 0)], "ok", by="plain") == Counter({"resolved_checked": 1})


def test_the_resolver_is_the_process_that_logged_the_resolution_nearest_after_it():
    doc = {fields.TIMESTAMP: AT}
    at = SLOT / 1000 + 0.3
    logged = [(at + 0.05, "fleet-b"), (at + 40, "fleet-a"), (at - 30, "fleet-a")]
    assert analysis._resolver(logged, ["fleet-a", "fleet-b"], doc) == "fleet-b"
    assert analysis._resolver(logged, ["plain"], doc) is None


class _Node:
    """Answers KibanaWatch's searches from a list of group documents, as Elasticsearch would for the rule's
    query (lag.seconds or lag.seconds_last_known at least the threshold)."""

    def __init__(self, docs: list[dict], threshold: float):
        self.docs, self.threshold = docs, threshold

    def _in(self, doc, start, end):
        return start <= doc["t"] <= end

    def _matches(self, doc):
        return any((doc.get(k) or 0) >= self.threshold for k in (fields.LAG_SECONDS, fields.LAG_SECONDS_LAST_KNOWN))

    def search(self, index, query, size=0, aggs=None, _source=None, request_timeout=None):
        filters = query["bool"]["filter"]
        ids = next((f["ids"]["values"] for f in filters if "ids" in f), None)
        if ids is not None:  # the rule's query on given documents
            hits = [d for d in self.docs if d["_id"] in ids and self._matches(d)]
            return {"hits": {"hits": [{"_id": d["_id"]} for d in hits]}}
        window = next(f["range"][fields.TIMESTAMP] for f in filters if "range" in f)
        start, end = window["gte"] / 1000, window["lte"] / 1000
        docs = [d for d in self.docs if self._in(d, start, end)]
        if aggs:  # each group's last document in the window
            last: dict[str, dict] = {}
            for d in sorted(docs, key=lambda d: d["t"]):
                last[d[fields.GROUP_ID]] = d
            buckets = [{"key": g, "last": {"hits": {"hits": [{"_id": d["_id"], "_source": d}]}}} for g, d in last.items()]
            return {"aggregations": {"groups": {"buckets": buckets}}}
        partial = [d for d in docs if d.get(fields.LAG_PARTIAL)]
        return {"hits": {"hits": [{"_id": d["_id"], "_source": d} for d in partial]}}


class _Hit:
    hit, began = "broker 2", 1000.0


def _doc(n: int, t: float, seconds=None, partial=False, last_known=None) -> dict:
    return {"_id": f"d{n}", "t": t, fields.GROUP_ID: GROUP, fields.SLOT: int(t * 1000), fields.TIMESTAMP: t,
            fields.LAG_SECONDS: seconds, fields.LAG_PARTIAL: partial, fields.LAG_SECONDS_LAST_KNOWN: last_known}


def test_the_kibana_hold_is_judged_on_the_last_document_written_before_the_fault_not_the_last_indexed_then():
    # Run 2: the alert was on at 975 s (30 s), resolved at 995 s (0 s: the group caught up); the fault began at
    # 1000 s while Elasticsearch was rejecting, so at the fault's start only the 975 s document was indexed.
    # The partial documents then carry 0: the rule rightly lets them go, nothing is dropped.
    docs = [_doc(1, 975, seconds=30), _doc(2, 995, seconds=0), _doc(3, 1005, partial=True, last_known=0)]
    watch = KibanaWatch(_Node(docs, 20), [PREFIX], 20, 5)
    watch._writers = lambda index, slot: []
    watch(_Hit(), 1020)
    watch.finish()
    assert watch.counts["dropped"] == 0 and watch.counts["idle"] == 1


def test_a_partial_document_without_the_carried_value_of_a_firing_group_is_dropped():
    docs = [_doc(1, 995, seconds=30), _doc(2, 1005, partial=True, last_known=30), _doc(3, 1010, partial=True)]
    watch = KibanaWatch(_Node(docs, 20), [PREFIX], 20, 5)
    watch._writers = lambda index, slot: []
    watch(_Hit(), 1020)
    watch.finish()
    assert (watch.counts["partial_docs"], watch.counts["partial_docs_matched"], watch.counts["dropped"]) == (2, 1, 1)
    assert watch.examples[0]["dropped"]["seconds_last_known"] is None
