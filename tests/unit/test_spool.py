"""The on-disk spool and SpoolingSink: order, the cap, drop counting, corrupt segments, replay (pure, no services)."""

from __future__ import annotations

import json

from structlog.testing import capture_logs

from exporter.sinks.elasticsearch import DeliveryResult, SinkUnavailable
from exporter.sinks.spool import Spool, SpoolingSink


def docs(prefix: str, n: int, pad: int = 0) -> list[dict]:
    return [{"_id": f"{prefix}-{i}", "lagwatch.slot": i, "pad": "x" * pad} for i in range(n)]


class FakeSink:
    """Stands for Elasticsearch: down, up, or asking to retry some ids; records what it indexed, in order."""

    name = "fake-lag"

    def __init__(self):
        self.down = False
        self.retry_ids: set[str] = set()
        self.indexed: list[str] = []

    def deliver(self, batch):
        if self.down:
            raise SinkUnavailable("connection refused")
        retry = [d for d in batch if d["_id"] in self.retry_ids]
        self.indexed += [d["_id"] for d in batch if d["_id"] not in self.retry_ids]
        return DeliveryResult(indexed=len(batch) - len(retry), retry=retry)

    def setup(self):
        return "daily_indices"

    def prune(self):
        return []


def test_segments_are_read_back_oldest_first_and_survive_a_restart(tmp_path):
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append(docs("a", 3))
    spool.append(docs("b", 2))
    reopened = Spool(tmp_path, max_bytes=10**6)
    reopened.append(docs("c", 1))
    ids = [d["_id"] for s in reopened.segments() for d in reopened.read(s)]
    assert ids == ["a-0", "a-1", "a-2", "b-0", "b-1", "c-0"]
    assert reopened.documents == 6 and len(reopened) == 3
    assert reopened.bytes == sum(p.stat().st_size for p in tmp_path.glob("*.jsonl"))


def test_an_interrupted_write_leaves_no_segment(tmp_path):
    (tmp_path / "000000000007-3.jsonl.tmp").write_text('{"_id": "half')
    spool = Spool(tmp_path, max_bytes=10**6)
    assert len(spool) == 0 and not list(tmp_path.glob("*.tmp"))


def test_nothing_is_dropped_below_the_cap(tmp_path):
    spool = Spool(tmp_path, max_bytes=10**6)
    with capture_logs() as logged:
        for i in range(20):
            assert spool.append(docs(f"s{i}", 5, pad=100)) == 0
    assert spool.documents == 100 and spool.dropped_documents == 0
    assert not [e for e in logged if e["event"] == "spool_dropped"]


def test_at_the_cap_the_oldest_segments_go_first_counted_and_logged(tmp_path):
    one = len(json.dumps(docs("x", 1, pad=200)[0], separators=(",", ":"))) + 1
    spool = Spool(tmp_path, max_bytes=one * 10)  # room for 10 documents
    with capture_logs() as logged:
        for i in range(4):
            spool.append(docs(f"s{i}", 3, pad=200))  # 12 documents offered
    remaining = [d["_id"] for s in spool.segments() for d in spool.read(s)]
    assert remaining == [f"s{i}-{j}" for i in (1, 2, 3) for j in range(3)]
    assert spool.dropped_documents == 3
    assert spool.bytes <= spool.max_bytes
    drops = [e for e in logged if e["event"] == "spool_dropped"]
    assert len(drops) == 1 and drops[0]["documents"] == 3 and drops[0]["log_level"] == "warning"


def test_a_batch_larger_than_the_whole_cap_keeps_its_newest_documents(tmp_path):
    one = len(json.dumps(docs("big", 1, pad=200)[0], separators=(",", ":"))) + 1
    spool = Spool(tmp_path, max_bytes=one * 4)
    assert spool.append(docs("big", 10, pad=200)) == 6
    assert [d["_id"] for s in spool.segments() for d in spool.read(s)] == [f"big-{j}" for j in range(6, 10)]


def test_a_corrupt_line_loses_only_itself_and_is_counted(tmp_path):
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append(docs("a", 3))
    segment = spool.segments()[0]
    lines = segment.path.read_bytes().splitlines(keepends=True)
    segment.path.write_bytes(lines[0] + b'{"_id": "trunc\n' + b"\x00\xff garbage\n" + lines[2])
    with capture_logs() as logged:
        read = spool.read(segment)
    assert [d["_id"] for d in read] == ["a-0", "a-2"]
    assert spool.dropped_documents == 2
    assert [e["unreadable"] for e in logged if e["event"] == "spool_segment_corrupt"] == [2]


def test_an_unavailable_sink_spools_and_the_backlog_replays_in_order_once_it_is_back(tmp_path):
    inner = FakeSink()
    sink = SpoolingSink(inner, Spool(tmp_path, max_bytes=10**6), replay_documents=1000, retry_after_s=0)
    inner.down = True
    for i in range(3):
        result = sink.deliver(docs(f"down{i}", 2))
        assert result.indexed == 0 and result.spooled == 2 and result.error.startswith("spooled")
    assert sink.health().reachable is False and sink.health().ready  # spooling below the cap is fine
    inner.down = False
    with capture_logs() as logged:
        sink.deliver(docs("up", 2))
    # Fresh data first, then the backlog oldest first.
    assert inner.indexed == ["up-0", "up-1", "down0-0", "down0-1", "down1-0", "down1-1", "down2-0", "down2-1"]
    assert sink.spool.documents == 0 and not list(tmp_path.glob("*.jsonl"))
    replayed = [e for e in logged if e["event"] == "spool_replayed"]
    assert replayed[0]["documents"] == 6 and replayed[0]["segments"] == 3


def test_replay_is_bounded_per_delivery_so_a_long_backlog_does_not_stall_scrapes(tmp_path):
    inner = FakeSink()
    sink = SpoolingSink(inner, Spool(tmp_path, max_bytes=10**6), replay_documents=4, retry_after_s=0)
    inner.down = True
    for i in range(5):
        sink.deliver(docs(f"b{i}", 2))
    inner.down = False
    sink.deliver([])
    assert inner.indexed == ["b0-0", "b0-1", "b1-0", "b1-1"]
    sink.deliver([])
    sink.deliver([])
    assert inner.indexed[4:] == ["b2-0", "b2-1", "b3-0", "b3-1", "b4-0", "b4-1"]


def test_documents_elasticsearch_asks_to_retry_are_spooled_and_keep_their_place(tmp_path):
    inner = FakeSink()
    sink = SpoolingSink(inner, Spool(tmp_path, max_bytes=10**6), retry_after_s=0)
    inner.retry_ids = {"n-1"}
    result = sink.deliver(docs("n", 3))
    assert result.indexed == 2 and result.spooled == 1 and result.retry == []
    inner.down = True
    sink.deliver(docs("later", 1))
    inner.down, inner.retry_ids = False, set()
    sink.deliver([])
    assert inner.indexed == ["n-0", "n-2", "n-1", "later-0"]


def test_a_replay_that_fails_halfway_keeps_the_rest_for_the_next_cycle(tmp_path):
    inner = FakeSink()
    sink = SpoolingSink(inner, Spool(tmp_path, max_bytes=10**6), retry_after_s=0)
    inner.down = True
    sink.deliver(docs("a", 2))
    sink.deliver(docs("b", 2))
    inner.down = False
    inner.retry_ids = {"a-1"}  # e.g. a 429 on one item of the oldest segment
    sink.deliver([])
    assert inner.indexed == ["a-0"] and sink.spool.documents == 3
    inner.retry_ids = set()
    sink.deliver([])
    assert inner.indexed == ["a-0", "a-1", "b-0", "b-1"]


def test_the_sink_is_not_ready_once_it_drops_and_ready_again_when_elasticsearch_is_back(tmp_path):
    inner = FakeSink()
    sink = SpoolingSink(inner, Spool(tmp_path, max_bytes=2048), retry_after_s=0)
    inner.down = True
    sink.deliver(docs("a", 3, pad=300))
    assert sink.health().ready
    for i in range(5):
        sink.deliver(docs(f"more{i}", 3, pad=300))
    health = sink.health()
    assert health.dropping and not health.ready and health.dropped_documents > 0
    inner.down = False
    sink.deliver([])
    assert sink.health().ready and sink.health().reachable


def test_after_a_failure_the_next_batches_go_straight_to_the_spool_for_a_while(tmp_path):
    inner, now = FakeSink(), [100.0]
    calls = []
    real_deliver = inner.deliver
    inner.deliver = lambda batch: (calls.append(len(batch)), real_deliver(batch))[1]
    sink = SpoolingSink(inner, Spool(tmp_path, max_bytes=10**6), retry_after_s=3.0, clock=lambda: now[0])
    inner.down = True
    for chunk in range(4):  # one scrape delivered in four chunks: Elasticsearch is asked once
        assert sink.deliver(docs(f"c{chunk}", 2)).spooled == 2
    assert len(calls) == 1 and sink.spool.documents == 8
    inner.down = False
    now[0] += 3.0  # the next scrape tries again, and replays the backlog
    assert sink.deliver(docs("next", 2)).indexed == 2
    assert inner.indexed[:2] == ["next-0", "next-1"] and sink.spool.documents == 0
