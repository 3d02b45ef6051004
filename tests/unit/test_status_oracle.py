"""The fast statuses give exactly what the plain ones give (tests/unit/status_reference.py): windows and
statuses after every sample of generated histories, and whole scrapes' statuses from generated reports."""

from __future__ import annotations

import msgspec

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.evaluator import status
from exporter.evaluator.status import Code, PartitionWindow, Sample, Status, StatusConfig
from exporter.lag import report
from tests.unit import status_reference
from tests.unit.test_lag_oracle import snapshots

SAMPLE = st.builds(
    lambda committed, log_end, owned, error: (committed, log_end, owned, error),
    st.one_of(st.none(), st.integers(-1, 12), st.integers(40, 45)),
    st.one_of(st.none(), st.integers(-1, 14), st.integers(40, 46)),
    st.booleans(),
    st.sampled_from([None, None, None, "LeaderNotAvailableError"]),
)
CONFIGS = st.builds(StatusConfig, window=st.integers(1, 6), stop_after_s=st.sampled_from([0.0, 60.0, 120.0]))


@settings(max_examples=400, deadline=None)
@given(rows=st.lists(SAMPLE, max_size=16), config=CONFIGS,
       start=st.sampled_from([PartitionWindow(), PartitionWindow((), 0.0, 5), PartitionWindow((), 0.0, None)]))
def test_a_partition_s_windows_and_statuses_equal_the_plain_ones(rows, config, start):
    fast = plain = start
    for i, (committed, log_end, owned, error) in enumerate(rows):
        sample = Sample(30.0 * i, committed, log_end, owned, error)
        fast = status.push(fast, sample, config.window)
        plain = status_reference.push(plain, sample, config.window)
        assert fast == plain
        assert status.evaluate(fast, 30.0 * i, config) == status_reference.evaluate(plain, 30.0 * i, config)


STATUSES = st.builds(Status, st.sampled_from(list(Code)),
                     st.sampled_from(["consuming", "caught_up", "no_commit", "no_consumer_within_stop_after",
                                      "window_filling", "offset_rewound", "no_data"]), st.booleans())


@given(items=st.lists(STATUSES, max_size=5), error=st.sampled_from([None, "CoordinatorNotAvailableError"]))
def test_a_group_s_status_equals_the_plain_one(items, error):
    assert status.worst(items, error) == status_reference.worst(items, error)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scrapes=st.lists(snapshots([1000.0]), min_size=1, max_size=4), config=CONFIGS)
def test_a_scrape_s_statuses_equal_the_plain_ones(scrapes, config):
    fast_windows, plain_windows, previous, histories = {}, {}, None, {}
    for n, snapshot in enumerate(scrapes):
        snapshot = msgspec.structs.replace(snapshot, taken_at=1000.0 + 30 * n)
        histories = report.update_histories(histories, snapshot, previous)
        lag_report = report.build_report(snapshot, previous, histories)
        fast_windows, fast = status.evaluate_report(fast_windows, lag_report, snapshot.taken_at, config)
        plain_windows, plain = status_reference.evaluate_report(plain_windows, lag_report, snapshot.taken_at, config)
        assert fast_windows == plain_windows
        assert fast == plain
        previous = snapshot
