"""The fast lag model gives exactly what the plain one gives (tests/unit/lag_reference.py), on generated
snapshots full of what it must get right: unreadable topics and partitions, unread and beyond-the-end commits,
vanished topics and partitions, recreated topics, members with assignments, share groups, duplicate groups."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.lag import report
from exporter.lag.model import ClusterSnapshot, GroupObservation, Member, PartitionOffsets, ScrapeError, TopicInfo
from tests.unit import lag_reference

TOPICS = ["a", "b", "c"]
OFFSET = st.one_of(st.none(), st.integers(-1, 30), *[st.integers(20, 30)] * 4)  # log-end offsets


@st.composite
def snapshots(draw, times: list[float]) -> ClusterSnapshot:
    at = draw(st.sampled_from(times))
    topics = {}
    for name in draw(st.lists(st.sampled_from(TOPICS), unique=True, min_size=1, max_size=3)):
        topics[name] = TopicInfo(name, draw(st.sampled_from([2, 3, 1, 0])), draw(st.sampled_from(["id-1", "id-2", None])),
                                 draw(st.sampled_from([None, -1, 0, 60_000, 86_400_000])))
    partitions, errors = {}, []
    for name, info in topics.items():
        if draw(st.integers(0, 9)) == 0:
            errors.append(ScrapeError("topic", name, "UnknownServerError"))
            continue
        for p in range(info.partitions):
            if draw(st.integers(0, 9)) == 0:
                continue  # missing from the offsets read
            partitions[(name, p)] = PartitionOffsets(
                name, p, draw(OFFSET), draw(st.one_of(st.none(), st.integers(0, 10))), 1,
                draw(st.sampled_from([None, None, None, "LeaderNotAvailableError"])))
    # Commits mostly on partitions that exist, also beyond a topic's partition count and on a topic that is gone.
    anywhere = st.tuples(st.sampled_from(TOPICS + ["gone"]), st.integers(0, 4))
    existing = [(name, p) for name, info in topics.items() for p in range(info.partitions)]
    tp = st.one_of(*[st.sampled_from(existing)] * 4, anywhere) if existing else anywhere
    groups = []
    for name in draw(st.lists(st.sampled_from(["g1", "g2", "g3", "g4"]), max_size=4)):  # duplicates too
        committed = draw(st.dictionaries(tp, st.one_of(*[st.integers(0, 25)] * 3, st.integers(-1, 35)), max_size=6))
        members = tuple(Member(f"m{i}", "app", "/10.0.0.1", tuple(draw(st.lists(tp, max_size=3))))
                        for i in range(draw(st.sampled_from([0, 0, 0, 1, 2]))))
        groups.append(GroupObservation(
            name, draw(st.sampled_from(["Stable", "Empty"])), group_type=draw(st.sampled_from([None, "classic", "share"])),
            members=members, committed=committed, error=draw(st.sampled_from([None, None, "CoordinatorNotAvailableError"])),
            committed_read=draw(st.sampled_from([True, True, False])),
            committed_unread=tuple(draw(st.lists(tp, max_size=2))) if draw(st.booleans()) else (),
            epoch=draw(st.sampled_from([None, 3])),
            broker_lag=draw(st.dictionaries(tp, st.integers(-1, 9), max_size=2)) if draw(st.booleans()) else {},
        ))
    # Broker time probes: histories that place committed offsets in time (lag in seconds, retention used).
    probes = {key: ((at - draw(st.integers(60, 7200)), draw(st.integers(0, 5))),)
              for key in existing if draw(st.booleans())}
    return ClusterSnapshot("c", at, topics, partitions, tuple(groups), tuple(errors), time_probes=probes)


def items(topic: str) -> int:
    return 3 if topic == "b" else 1


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Scrapes 30 s apart, at the same time, or going back: rates are unknown unless time moved forward.
@given(first=snapshots([1000.0]), second=snapshots([1000.0, 1030.0]), third=snapshots([1000.0, 1060.0, 1090.0]))
def test_fast_report_equals_the_plain_one_on_any_snapshot(first, second, third):
    histories, previous = {}, None
    for snapshot in (first, second, third):
        histories = report.update_histories(histories, snapshot, previous)
        skewed = set(sorted(snapshot.partitions)[::2])  # record times ahead of lagwatch's clock (clock_skew)
        fast = report.build_report(snapshot, previous, histories, items, skewed)
        plain = lag_reference.build_report(snapshot, previous, histories, items, skewed)
        assert fast.partitions == plain.partitions
        assert fast.group_topics == plain.group_topics
        assert fast.groups == plain.groups
        previous = snapshot


def test_the_oracle_is_the_plain_model_on_an_example():
    # The oracle itself is checked by the table tests in test_lag.py running against it here once.
    snap = ClusterSnapshot("c", 100.0, {"a": TopicInfo("a", 2)},
                           {("a", 0): PartitionOffsets("a", 0, 10), ("a", 1): PartitionOffsets("a", 1, 4)},
                           (GroupObservation("g", "Empty", committed={("a", 0): 7}),))
    got = lag_reference.build_report(snap, None, {})
    assert [r.lag for r in got.partitions] == [3, None] and got.groups[0].lag_sum == 3
    assert report.build_report(snap, None, {}) == got
