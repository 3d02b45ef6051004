"""The on-disk spool and SpoolingSink: order, the cap, drop counting, corrupt segments, replay (pure, no services)."""

from __future__ import annotations

from structlog.testing import capture_logs

from exporter.output.batch import Batch, from_documents
from exporter.sinks import segment_files
from exporter.sinks.interface import DeliveryResult, SinkRefused, SinkUnavailable
from exporter.sinks.spool import Spool, SpoolingSink

NOTHING = Batch(b"", 0, "")  # a delivery with no new documents: only the replay runs


def docs(prefix: str, n: int, pad: int = 0) -> Batch:
    """n documents in one batch, ids <prefix>-0 ... <prefix>-<n-1>."""
    made = from_documents([{"_id": f"{prefix}-{i}", "lagwatch.slot": 0, "n": i, "pad": "x" * pad} for i in range(n)],
                          max_documents=n or 1)
    return made[0] if made else NOTHING


def positions(batch: Batch, ids: set[str]) -> list[int]:
    return [i for i, doc_id in enumerate(batch.ids()) if doc_id in ids]


class FakeSink:
    """Stands for Elasticsearch: down, up, or asking to retry some ids; records what it indexed, in order."""

    name = "fake-lag"
    retention_refused = None

    def __init__(self):
        self.down = False
        self.retry_ids: set[str] = set()
        self.indexed: list[str] = []

    def deliver(self, batch):
        if self.down:
            raise SinkUnavailable("connection refused")
        retry = positions(batch, self.retry_ids)
        self.indexed += [doc_id for doc_id in batch.ids() if doc_id not in self.retry_ids]
        return DeliveryResult(indexed=batch.documents - len(retry), retry=batch.subset(retry) if retry else None)

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
    ids = [doc_id for s in reopened.segments() for doc_id in reopened.read(s).ids()]
    assert ids == ["a-0", "a-1", "a-2", "b-0", "b-1", "c-0"]
    assert reopened.documents == 6 and len(reopened) == 3
    assert reopened.bytes == sum(p.stat().st_size for p in tmp_path.glob("*.ndjson"))
    assert reopened.read(reopened.segments()[0]) == docs("a", 3)  # the bytes as they were encoded


def test_an_interrupted_write_leaves_no_segment(tmp_path):
    (tmp_path / "000000000007-3.ndjson.tmp").write_text('{"lagwatch_batch":1,"docu')
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
    three = len(segment_files.content(docs("s0", 3, pad=200)))
    spool = Spool(tmp_path, max_bytes=three * 3 + 10)  # room for 3 segments of 3 documents
    with capture_logs() as logged:
        for i in range(4):
            spool.append(docs(f"s{i}", 3, pad=200))  # 12 documents offered
    remaining = [doc_id for s in spool.segments() for doc_id in spool.read(s).ids()]
    assert remaining == [f"s{i}-{j}" for i in (1, 2, 3) for j in range(3)]
    assert spool.dropped_documents == 3
    assert spool.bytes <= spool.max_bytes
    drops = [e for e in logged if e["event"] == "spool_dropped"]
    assert len(drops) == 1 and drops[0]["documents"] == 3 and drops[0]["log_level"] == "warning"


def test_a_batch_larger_than_the_whole_cap_keeps_its_newest_documents(tmp_path):
    one = docs("big", 1, pad=200).size  # an action line and a source line
    spool = Spool(tmp_path, max_bytes=segment_files.HEADER_ROOM + one * 4)
    assert spool.append(docs("big", 10, pad=200)) == 6
    assert [doc_id for s in spool.segments() for doc_id in spool.read(s).ids()] == [f"big-{j}" for j in range(6, 10)]


def test_a_damaged_document_loses_only_itself_and_is_counted(tmp_path):
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append(docs("a", 3))
    segment = spool.segments()[0]
    header, *lines = segment.path.read_bytes().splitlines(keepends=True)  # action, source per document
    lines[3] = b'{"n": 1, "pad": "trunc\n'  # a-1's source line, cut short on disk
    segment.path.write_bytes(header + b"".join(lines))
    with capture_logs() as logged:
        read = spool.read(segment)
    assert read.ids() == ["a-0", "a-2"] and read.decode() == [docs("a", 3).decode()[i] for i in (0, 2)]
    assert spool.dropped_documents == 1
    assert [e["unreadable"] for e in logged if e["event"] == "spool_segment_corrupt"] == [1]


def test_a_segment_cut_short_keeps_what_was_written_and_counts_the_rest(tmp_path):
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append(docs("a", 3))
    segment = spool.segments()[0]
    segment.path.write_bytes(segment.path.read_bytes()[:-40])  # the last source line lost its end
    read = spool.read(segment)
    assert read.ids() == ["a-0", "a-1"] and spool.dropped_documents == 1


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
    assert sink.spool.documents == 0 and not list(tmp_path.glob("*.ndjson"))
    replayed = [e for e in logged if e["event"] == "spool_replayed"]
    assert replayed[0]["documents"] == 6 and replayed[0]["segments"] == 3


def test_replay_is_bounded_per_delivery_so_a_long_backlog_does_not_stall_scrapes(tmp_path):
    inner = FakeSink()
    sink = SpoolingSink(inner, Spool(tmp_path, max_bytes=10**6), replay_documents=4, retry_after_s=0)
    inner.down = True
    for i in range(5):
        sink.deliver(docs(f"b{i}", 2))
    inner.down = False
    sink.deliver(NOTHING)
    assert inner.indexed == ["b0-0", "b0-1", "b1-0", "b1-1"]
    sink.deliver(NOTHING)
    sink.deliver(NOTHING)
    assert inner.indexed[4:] == ["b2-0", "b2-1", "b3-0", "b3-1", "b4-0", "b4-1"]


def test_documents_elasticsearch_asks_to_retry_are_spooled_and_keep_their_place(tmp_path):
    inner = FakeSink()
    sink = SpoolingSink(inner, Spool(tmp_path, max_bytes=10**6), retry_after_s=0)
    inner.retry_ids = {"n-1"}
    result = sink.deliver(docs("n", 3))
    assert result.indexed == 2 and result.spooled == 1 and result.retry is None
    inner.down = True
    sink.deliver(docs("later", 1))
    inner.down, inner.retry_ids = False, set()
    sink.deliver(NOTHING)
    assert inner.indexed == ["n-0", "n-2", "n-1", "later-0"]


def test_a_replay_that_fails_halfway_keeps_the_failed_part_for_later_and_goes_on(tmp_path):
    inner, now = FakeSink(), [0.0]
    sink = SpoolingSink(inner, Spool(tmp_path, max_bytes=10**6), retry_after_s=0, clock=lambda: now[0],
                        backoff_s=15.0)
    inner.down = True
    sink.deliver(docs("a", 2))
    sink.deliver(docs("b", 2))
    inner.down = False
    inner.retry_ids = {"a-1"}  # e.g. a 429 on one item of the oldest segment
    sink.deliver(NOTHING)
    assert inner.indexed == ["a-0", "b-0", "b-1"] and sink.spool.documents == 1
    inner.retry_ids = set()
    sink.deliver(NOTHING)
    assert inner.indexed == ["a-0", "b-0", "b-1"]  # a-1 waits out its pause
    now[0] += 15.0
    sink.deliver(NOTHING)
    assert inner.indexed == ["a-0", "b-0", "b-1", "a-1"] and sink.spool.documents == 0


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
    sink.deliver(NOTHING)
    assert sink.health().ready and sink.health().reachable


def test_after_a_failure_the_next_batches_go_straight_to_the_spool_for_a_while(tmp_path):
    inner, now = FakeSink(), [100.0]
    calls = []
    real_deliver = inner.deliver
    inner.deliver = lambda batch: (calls.append(batch.documents), real_deliver(batch))[1]
    sink = SpoolingSink(inner, Spool(tmp_path, max_bytes=10**6), retry_after_s=3.0, clock=lambda: now[0])
    inner.down = True
    for chunk in range(4):  # one scrape delivered in four chunks: Elasticsearch is asked once
        assert sink.deliver(docs(f"c{chunk}", 2)).spooled == 2
    assert len(calls) == 1 and sink.spool.documents == 8
    inner.down = False
    now[0] += 3.0  # the next scrape tries again, and replays the backlog
    assert sink.deliver(docs("next", 2)).indexed == 2
    assert inner.indexed[:2] == ["next-0", "next-1"] and sink.spool.documents == 0


# --- issue 10: progress past a stuck segment, dead letters, and an outcome for every document -------------


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class StrictFake(FakeSink):
    """FakeSink that can also keep asking to retry some ids forever (`stuck_ids`), reject some (400, per
    item) or refuse whole requests (a 401 on every bulk: SinkRefused)."""

    def __init__(self):
        super().__init__()
        self.stuck_ids: set[str] = set()
        self.reject_ids: set[str] = set()
        self.refuse: str | None = None

    def deliver(self, batch):
        if self.refuse:
            raise SinkRefused(self.refuse)
        if self.down:
            raise SinkUnavailable("connection refused")
        ids = batch.ids()
        retry = positions(batch, self.retry_ids | self.stuck_ids)
        rejected = [(doc_id, "document_parsing_exception: failed to parse field [x]")
                    for i, doc_id in enumerate(ids) if doc_id in self.reject_ids and i not in retry]
        gone = {ids[i] for i in retry} | {i for i, _ in rejected}
        ok = [doc_id for doc_id in ids if doc_id not in gone]
        self.indexed += ok
        return DeliveryResult(indexed=len(ok), retry=batch.subset(retry) if retry else None, rejected=rejected,
                              retry_reason="503 unavailable_shards_exception: primary shard is not active" if retry else None)


def spooling(tmp_path, inner, clock, **kwargs):
    kwargs.setdefault("retry_after_s", 0)
    return SpoolingSink(inner, Spool(tmp_path / "spool", max_bytes=kwargs.pop("max_bytes", 10**6)), clock=clock, **kwargs)


def spooled_ids(sink) -> list[str]:
    return [doc_id for s in sink.spool.segments() for doc_id in sink.spool.read(s).ids()]


def test_replay_goes_past_a_segment_elasticsearch_keeps_asking_to_retry(tmp_path):
    inner, clock = StrictFake(), Clock()
    sink = spooling(tmp_path, inner, clock)
    inner.down = True
    for name in ("a", "stuck", "c"):
        sink.deliver(docs(name, 2))
    inner.down, inner.stuck_ids = False, {"stuck-0"}
    with capture_logs() as logged:
        sink.deliver(NOTHING)
    # Head-of-line blocking before: a, then stop at "stuck" with c never sent.
    assert inner.indexed == ["a-0", "a-1", "stuck-1", "c-0", "c-1"]
    assert spooled_ids(sink) == ["stuck-0"]
    (deferred,) = [e for e in logged if e["event"] == "spool_segment_deferred"]
    assert deferred["attempts"] == 1 and deferred["documents"] == 1 and deferred["retry_in_s"] > 0
    assert "primary shard is not active" in deferred["reason"]
    assert sink.health().deferred_segments == 1


def test_a_deferred_segment_waits_a_growing_pause_before_it_is_sent_again(tmp_path):
    inner, clock = StrictFake(), Clock()
    sink = spooling(tmp_path, inner, clock, max_attempts=10, backoff_s=10.0, backoff_max_s=35.0)
    inner.down = True
    sink.deliver(docs("s", 1))
    inner.down, inner.stuck_ids = False, {"s-0"}
    sent = []
    real = inner.deliver
    inner.deliver = lambda batch: (sent.append(batch.ids()), real(batch))[1]
    pauses = []
    with capture_logs() as logged:
        for _ in range(120):  # two minutes, one delivery per second
            sink.deliver(NOTHING)
            clock.now += 1.0
    pauses = [e["retry_in_s"] for e in logged if e["event"] == "spool_segment_deferred"]
    assert pauses[:4] == [10.0, 20.0, 35.0, 35.0]  # doubling, capped at backoff_max_s
    assert 4 <= sent.count(["s-0"]) <= 6  # not once a second


def test_a_segment_still_failing_after_max_attempts_is_dead_lettered_counted_and_logged(tmp_path):
    inner, clock = StrictFake(), Clock()
    sink = spooling(tmp_path, inner, clock, max_attempts=3, backoff_s=1.0)
    inner.down = True
    sink.deliver(Batch.joined([docs("ok", 1), docs("poison", 2)]))
    inner.down, inner.stuck_ids = False, {"poison-0", "poison-1"}
    with capture_logs() as logged:
        for _ in range(10):
            sink.deliver(NOTHING)
            clock.now += 5.0
    assert inner.indexed == ["ok-0"] and len(sink.spool) == 0
    (dead,) = [e for e in logged if e["event"] == "spool_dead_lettered"]
    assert dead["log_level"] == "error" and dead["documents"] == 2 and dead["attempts"] == 3
    files = sorted(sink.spool.dead_letter_dir.glob("*.ndjson"))
    assert [str(f) for f in files] == [dead["path"]]
    # An operator can read what failed and why.
    assert segment_files.batch_of(files[0].read_bytes())[0].ids() == ["poison-0", "poison-1"]
    assert "primary shard is not active" in files[0].with_suffix(".reason").read_text()
    counts = sink.counts()
    assert (counts.dead_lettered, counts.indexed, counts.pending) == (2, 1, 0)
    assert sink.health().dead_lettered_documents == 2


def test_a_dead_letter_file_moved_back_into_the_spool_is_replayed(tmp_path):
    inner, clock = StrictFake(), Clock()
    sink = spooling(tmp_path, inner, clock, max_attempts=1)
    inner.down = True
    sink.deliver(docs("p", 2))
    inner.down, inner.stuck_ids = False, {"p-0", "p-1"}
    sink.deliver(NOTHING)
    (dead,) = sink.spool.dead_letter_dir.glob("*.ndjson")
    inner.stuck_ids = set()  # the operator fixed the cause
    dead.rename(sink.spool.dir / dead.name)
    restarted = spooling(tmp_path, inner, clock)
    restarted.deliver(NOTHING)
    assert inner.indexed == ["p-0", "p-1"] and len(restarted.spool) == 0


def test_replay_attempts_survive_a_restart(tmp_path):
    inner, clock = StrictFake(), Clock()
    sink = spooling(tmp_path, inner, clock, max_attempts=2)
    inner.down = True
    sink.deliver(docs("p", 1))
    inner.down, inner.stuck_ids = False, {"p-0"}
    sink.deliver(NOTHING)
    assert sink.spool.segments()[0].attempts == 1
    restarted = spooling(tmp_path, inner, clock, max_attempts=2)
    assert restarted.spool.segments()[0].attempts == 1
    restarted.deliver(NOTHING)  # the second attempt: dead-lettered, not begun afresh
    assert len(restarted.spool) == 0 and restarted.counts().dead_lettered == 1


def test_a_full_disk_drops_the_batch_counted_and_logged_and_leaves_no_tmp(tmp_path, monkeypatch):
    import errno

    from exporter.sinks import segments

    inner, clock = StrictFake(), Clock()
    sink = spooling(tmp_path, inner, clock)
    inner.down = True

    def full(fd):  # failure injection: the kernel's answer on a full disk, at the fsync of the new segment
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(segments.os, "fsync", full)
    with capture_logs() as logged:
        result = sink.deliver(docs("lost", 3))
    assert (result.spooled, result.dropped) == (0, 3) and result.error.startswith("dropped")
    assert not list((tmp_path / "spool").glob("*.tmp")) and not list((tmp_path / "spool").glob("*.ndjson"))
    assert sink.counts().dropped == 3 and sink.health().dropped_documents == 3 and sink.health().dropping
    (failed,) = [e for e in logged if e["event"] == "spool_write_failed"]
    assert failed["documents"] == 3 and "No space left" in failed["error"]
    assert not [e for e in logged if e["event"] == "documents_spooled"]


def test_a_failed_rewrite_during_replay_keeps_the_segment_whole(tmp_path, monkeypatch):
    import errno

    from exporter.sinks import segments

    inner, clock = StrictFake(), Clock()
    sink = spooling(tmp_path, inner, clock)
    inner.down = True
    sink.deliver(docs("r", 3))
    inner.down, inner.stuck_ids = False, {"r-1"}

    def full(fd):  # failure injection: a full disk when the replay rewrites the segment to its retry part
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(segments.os, "fsync", full)
    sink.deliver(NOTHING)
    monkeypatch.undo()
    assert spooled_ids(sink) == ["r-0", "r-1", "r-2"]  # nothing lost; ids make a second indexing an overwrite
    assert not list((tmp_path / "spool").glob("*.tmp"))
    inner.stuck_ids = set()
    clock.now += 3600
    sink.deliver(NOTHING)
    counts = sink.counts()
    assert counts.pending == 0 and counts.indexed == 3 and counts.offered == 3  # each counted once


def test_documents_elasticsearch_rejects_are_counted_with_their_reason(tmp_path):
    inner, clock = StrictFake(), Clock()
    sink = spooling(tmp_path, inner, clock)
    inner.reject_ids = {"r-1"}
    with capture_logs() as logged:
        result = sink.deliver(docs("r", 3))
    assert result.indexed == 2 and [i for i, _ in result.rejected] == ["r-1"]
    (event,) = [e for e in logged if e["event"] == "documents_rejected"]
    assert event["documents"] == 1 and "failed to parse field" in event["reasons"][0] and event["ids"] == ["r-1"]
    assert sink.counts().rejected == 1 and sink.health().rejected_documents == 1
    assert sink.health().ready  # some rejected, the rest indexed: counted, not a configuration problem
    assert len(sink.spool) == 0


def test_elasticsearch_rejecting_every_document_is_reported_as_a_configuration_problem(tmp_path):
    inner, clock = StrictFake(), Clock()
    sink = spooling(tmp_path, inner, clock)
    inner.reject_ids = {"r-0", "r-1"}
    sink.deliver(docs("r", 2))
    health = sink.health()
    assert not health.ready and "every document" in health.refused and "failed to parse field" in health.refused
    inner.reject_ids = set()
    sink.deliver(docs("fixed", 1))
    assert sink.health().ready and sink.health().refused is None


def test_a_refused_request_is_a_configuration_problem_rejected_not_spooled(tmp_path):
    inner, clock = StrictFake(), Clock()
    sink = spooling(tmp_path, inner, clock)
    inner.refuse = "Elasticsearch refused the bulk request (401 security_exception): check elasticsearch credentials"
    with capture_logs() as logged:
        result = sink.deliver(docs("x", 3))
    assert result.spooled == 0 and len(result.rejected) == 3 and result.error.startswith("rejected")
    assert len(sink.spool) == 0 and sink.counts().rejected == 3
    health = sink.health()
    assert not health.ready and "401" in health.refused
    (event,) = [e for e in logged if e["event"] == "sink_refused"]
    assert event["log_level"] == "error" and "configuration" in event["detail"]
    inner.refuse = None
    sink.deliver(docs("y", 1))
    assert sink.health().ready and inner.indexed == ["y-0"]


def test_a_refusal_during_replay_stops_the_replay_without_losing_the_backlog(tmp_path):
    inner, clock = StrictFake(), Clock()
    sink = spooling(tmp_path, inner, clock)
    inner.down = True
    sink.deliver(docs("b", 2))
    inner.down = False
    calls = []
    real = inner.deliver

    def refuse_replays(batch):
        calls.append(batch)
        if len(calls) > 1:
            raise SinkRefused("403 security_exception: action [indices:data/write/bulk] is unauthorized")
        return real(batch)

    inner.deliver = refuse_replays
    sink.deliver(docs("fresh", 1))
    assert spooled_ids(sink) == ["b-0", "b-1"] and sink.spool.segments()[0].attempts == 0
    assert not sink.health().ready


def test_spool_now_counts_what_it_keeps(tmp_path):
    inner, clock = StrictFake(), Clock()
    sink = spooling(tmp_path, inner, clock)
    result = sink.spool_now(docs("q", 2), "delivery queue full")
    assert result.spooled == 2 and sink.counts().offered == 2 and sink.counts().pending == 2


def test_counts_is_a_frozen_snapshot(tmp_path):
    import dataclasses

    import pytest

    sink = spooling(tmp_path, StrictFake(), Clock())
    counts = sink.counts()
    with pytest.raises(dataclasses.FrozenInstanceError):
        counts.indexed = 5
    sink.deliver(docs("z", 1))
    assert counts.indexed == 0 and sink.counts().indexed == 1


# Every operation the daemon can meet, in any order: each document ends in exactly one outcome.
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

OPS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["deliver", "deliver_stuck", "deliver_rejected"]), st.integers(0, 4)),
        st.tuples(st.just("spool_now"), st.integers(1, 3)),
        st.tuples(st.sampled_from(["down", "up", "refuse", "accept", "disk_full", "disk_ok", "restart"]), st.just(0)),
        st.tuples(st.sampled_from(["stick", "unstick", "reject", "unreject"]), st.integers(0, 6)),
        st.tuples(st.just("wait"), st.integers(1, 400)),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
# Sure to be covered, whatever hypothesis draws: a dead letter across a restart, a full disk mid-replay.
@example(ops=[("deliver_stuck", 2), ("deliver", 1), ("wait", 30), ("restart", 0), ("deliver", 1), ("wait", 30),
              ("deliver", 1)])
@example(ops=[("down", 0), ("deliver", 3), ("deliver_rejected", 2), ("up", 0), ("disk_full", 0), ("deliver_stuck", 2),
              ("deliver", 1), ("disk_ok", 0), ("wait", 100), ("deliver", 1), ("refuse", 0), ("deliver", 2),
              ("spool_now", 2), ("accept", 0), ("wait", 100), ("deliver", 0)])
def test_every_document_is_indexed_rejected_dropped_dead_lettered_or_still_spooled(tmp_path_factory, ops):
    import errno

    from exporter.sinks import segments

    directory = tmp_path_factory.mktemp("acct")
    inner, clock = StrictFake(), Clock()
    full = [False]
    real_fsync = segments.os.fsync

    def fsync(fd):
        if full[0]:  # failure injection: a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    def make():
        return spooling(directory, inner, clock, max_attempts=2, backoff_s=20.0, max_bytes=4000, replay_documents=5)

    sink, serial, recovered_before = make(), 0, 0
    totals = {"offered": 0, "indexed": 0, "rejected": 0, "dropped": 0, "dead_lettered": 0}
    segments.os.fsync = fsync
    try:
        for op, n in ops:
            if op in ("deliver", "deliver_stuck", "deliver_rejected", "spool_now"):
                batch = docs(f"d{serial}", n, pad=150)
                if op == "deliver_stuck":  # Elasticsearch keeps asking to retry its first document
                    inner.stuck_ids.add(f"d{serial}-0")
                if op == "deliver_rejected":
                    inner.reject_ids.add(f"d{serial}-1")
                serial += 1
                result = sink.spool_now(batch, "queue full") if op == "spool_now" else sink.deliver(batch)
                # Per call: every document has exactly one outcome.
                assert batch.documents == (result.indexed + result.duplicates + len(result.rejected) + result.spooled
                                           + result.dropped)
            elif op == "down":
                inner.down = True
            elif op == "up":
                inner.down = False
            elif op == "refuse":
                inner.refuse = "401 security_exception"
            elif op == "accept":
                inner.refuse = None
            elif op == "disk_full":
                full[0] = True
            elif op == "disk_ok":
                full[0] = False
            elif op == "stick":
                inner.stuck_ids.add(f"d{n}-0")
            elif op == "unstick":
                inner.stuck_ids.discard(f"d{n}-0")
            elif op == "reject":
                inner.reject_ids.add(f"d{n}-1")
            elif op == "unreject":
                inner.reject_ids.discard(f"d{n}-1")
            elif op == "wait":
                clock.now += n
            elif op == "restart":
                for key in totals:
                    totals[key] += getattr(sink.counts(), key)
                recovered_before += sink.counts().recovered
                sink = make()
            c = sink.counts()
            assert c.offered + c.recovered == c.indexed + c.rejected + c.dropped + c.dead_lettered + c.pending
            assert c.pending == sink.spool.documents
            assert not list(directory.glob("spool/*.tmp"))
        # Across restarts too: nothing offered is unaccounted for.
        c = sink.counts()
        offered = totals["offered"] + c.offered
        ends = sum(totals[k] for k in ("indexed", "rejected", "dropped", "dead_lettered"))
        ends += c.indexed + c.rejected + c.dropped + c.dead_lettered + c.pending
        assert offered == ends
        assert c.dead_lettered + totals["dead_lettered"] == sum(
            segment_files.batch_of(f.read_bytes())[0].documents for f in sink.spool.dead_letter_dir.glob("*.ndjson")
        )
    finally:
        segments.os.fsync = real_fsync


def test_a_real_full_disk_is_counted_as_dropped_and_leaves_no_tmp(tmp_path):
    """The same on a real 64 KiB tmpfs (the kernel's own ENOSPC), where mounting is allowed (root, as in CI)."""
    import os
    import subprocess

    import pytest

    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    disk = tmp_path / "small-disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        inner, clock = StrictFake(), Clock()
        sink = SpoolingSink(inner, Spool(disk, max_bytes=10**8), retry_after_s=0, clock=clock)
        inner.down = True
        with capture_logs() as logged:
            results = [sink.deliver(docs(f"b{i}", 10, pad=1000)) for i in range(20)]  # ~200 KB offered
        dropped = sum(r.dropped for r in results)
        assert dropped > 0 and sum(r.spooled for r in results) + dropped == 200
        assert [e for e in logged if e["event"] == "spool_write_failed"]
        counts = sink.counts()
        assert counts.dropped == dropped == sink.health().dropped_documents and counts.balanced
        assert not list(disk.glob("*.tmp"))
        inner.down = False
        sink.deliver(NOTHING)  # what was kept is indexed
        assert len(inner.indexed) == 200 - dropped and sink.counts().balanced
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_a_crash_between_rewriting_a_segment_and_deleting_the_old_one_keeps_the_rewrite(tmp_path):
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append(docs("a", 3))
    (segment,) = spool.segments()
    old_bytes = segment.path.read_bytes()
    spool.replace(segment, docs("a", 3).subset([1]), attempts=1)  # the replay indexed a-0 and a-2
    segment.path.write_bytes(old_bytes)  # as if the process died before unlinking the old file
    reopened = Spool(tmp_path, max_bytes=10**6)
    assert [doc_id for s in reopened.segments() for doc_id in reopened.read(s).ids()] == ["a-1"]
    assert reopened.segments()[0].attempts == 1 and len(list(tmp_path.glob("*.ndjson"))) == 1


def test_segments_written_before_batches_are_rewritten_as_batches_when_the_spool_opens(tmp_path):
    import json

    def old_segment(name: str, documents: list[dict]) -> None:  # one document with its _id per line
        (tmp_path / name).write_text("".join(json.dumps(d) + "\n" for d in documents))

    day1, day2 = 1_700_000_010_000, 1_700_000_010_000 + 86_400_000
    old_segment("000000000004-2-a1.jsonl", [{"_id": "r-0", "lagwatch.slot": day1}, {"_id": "r-1", "lagwatch.slot": day1}])
    old_segment("000000000006-3.jsonl", [{"_id": "m-0", "lagwatch.slot": day1}, {"_id": "m-1", "lagwatch.slot": day2},
                                         {"_id": "m-2", "lagwatch.slot": day2}])
    (tmp_path / "000000000007-1.jsonl").write_text('{"_id": "half\n')  # damaged before the upgrade
    with capture_logs() as logged:
        spool = Spool(tmp_path, max_bytes=10**6)
    assert [(s.sequence, s.attempts, spool.read(s).ids(), spool.read(s).day) for s in spool.segments()] == [
        (4, 1, ["r-0", "r-1"], "2023.11.14"),
        (6, 0, ["m-0"], "2023.11.14"),
        (8, 0, ["m-1", "m-2"], "2023.11.15"),  # a second day: a segment of its own, at the end
    ]
    assert not list(tmp_path.glob("*.jsonl")) and spool.recovered_documents == 5 and spool.dropped_documents == 1
    assert [e["segment"] for e in logged if e["event"] == "spool_segment_upgraded"] == [
        "000000000004-2-a1.jsonl", "000000000006-3.jsonl", "000000000007-1.jsonl"
    ]
    assert Spool(tmp_path, max_bytes=10**6).documents == 5  # the next start finds batches only
