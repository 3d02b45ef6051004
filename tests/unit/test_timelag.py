"""Lag in seconds from a (time, log-end) history: estimate, add_points, needs_probe, refine_probe."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.lag import timelag
from exporter.lag.model import TimeLag, TimeLagQuality

EXACT, INTERP, AT_LEAST, UNKNOWN = (
    TimeLagQuality.EXACT,
    TimeLagQuality.INTERPOLATED,
    TimeLagQuality.AT_LEAST,
    TimeLagQuality.UNKNOWN,
)
NOW = 10_000.0


# --- estimate ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "history, committed, log_end, expected",
    [
        (((9000.0, 0), (NOW, 100)), 100, 100, TimeLag(0.0, EXACT)),
        (((9000.0, 0), (NOW, 100)), 120, 100, TimeLag(0.0, EXACT)),  # committed ahead: still caught up
        ((), 100, 100, TimeLag(0.0, EXACT)),  # caught up needs no history
        (((9000.0, 0), (NOW, 100)), None, 100, TimeLag.unknown()),
        (((9000.0, 0), (NOW, 100)), -1, 100, TimeLag.unknown()),
        (((9000.0, 0), (NOW, 100)), 50, None, TimeLag.unknown()),
        ((), 50, 100, TimeLag.unknown()),
        (((NOW, 100),), 50, 100, TimeLag.unknown()),  # only today's point: never a fake zero
    ],
    ids=["caught-up", "ahead", "caught-up-no-history", "no-commit", "commit-sentinel", "no-log-end", "no-history",
         "only-current-point"],
)
def test_estimate_exact_or_unknown(history, committed, log_end, expected):
    assert timelag.estimate(history, committed, log_end, NOW) == expected


@pytest.mark.parametrize(
    "history, committed, seconds",
    [
        # produced_at = t_left + (c - o_left) * (t_right - t_left) / (o_right - o_left)
        (((9000.0, 0), (9400.0, 400), (NOW, 1000)), 100, 900.0),  # 9000 + 100*400/400 = 9100
        (((9000.0, 0), (9400.0, 400), (NOW, 1000)), 700, 300.0),  # 9400 + 300*600/600 = 9700
        (((9000.0, 0), (9400.0, 400), (NOW, 1000)), 400, 600.0),  # exactly on a point: produced at 9400
        (((9000.0, 0), (9400.0, 400), (NOW, 1000)), 0, 1000.0),
        (((8000.0, 1000), (9000.0, 3000), (NOW, 3000)), 1500, 1750.0),  # 8000 + 500*1000/2000 = 8250
    ],
    ids=["first-segment", "second-segment", "on-a-point", "on-first-point", "before-a-flat-run"],
)
def test_estimate_interpolates_between_points(history, committed, seconds):
    result = timelag.estimate(history, committed, history[-1][1], NOW)
    assert result.quality is INTERP
    assert result.seconds == pytest.approx(seconds)


def test_estimate_interpolates_towards_now_when_history_ends_before_the_committed_offset():
    # History stops at 9000/100, log end is 200 now: c=150 is halfway, so produced at 9500.
    result = timelag.estimate(((9000.0, 100),), 150, 200, NOW)
    assert result == TimeLag(pytest.approx(500.0), INTERP)


@pytest.mark.parametrize("committed", [0, 50, 99], ids=["zero", "middle", "just-below-oldest"])
def test_committed_older_than_every_point_is_a_lower_bound_from_the_oldest_point(committed):
    history = ((7000.0, 100), (9000.0, 300), (NOW, 400))
    assert timelag.estimate(history, committed, 400, NOW) == TimeLag(3000.0, AT_LEAST)


@pytest.mark.parametrize("now", [NOW, NOW + 600, NOW + 86_400], ids=["now", "ten-minutes-later", "a-day-later"])
def test_quiet_topic_lag_grows_with_now_while_the_consumer_is_behind(now):
    flat = timelag.add_points((), [(9000.0, 500), (9500.0, 500), (now, 500)])
    assert flat == ((9000.0, 500), (now, 500))
    assert timelag.estimate(flat, 499, 500, now) == TimeLag(now - 9000.0, AT_LEAST)
    assert timelag.estimate(flat, 500, 500, now) == TimeLag(0.0, EXACT)


def test_quiet_topic_with_older_activity_interpolates_and_grows_with_now():
    history = ((8000.0, 0), (9000.0, 500), (NOW, 500))
    first = timelag.estimate(history, 250, 500, NOW)
    later = timelag.estimate(history, 250, 500, NOW + 1000)
    assert first == TimeLag(pytest.approx(1500.0), INTERP)  # produced at 8500
    assert later.seconds == pytest.approx(first.seconds + 1000)


def test_estimate_never_negative():
    # A point in the future (clock skew) must not give a negative lag.
    result = timelag.estimate(((NOW, 0), (NOW + 100, 100)), 50, 100, NOW)
    assert result.seconds >= 0


SKEW = TimeLag(None, TimeLagQuality.CLOCK_SKEW)


@pytest.mark.parametrize(
    "history, committed, log_end, expected",
    [
        ((), 50, 100, SKEW),  # nothing of lagwatch's own yet
        (((NOW, 100),), 50, 100, SKEW),  # a fresh start: only this scrape's point
        (((NOW - 600, 100), (NOW, 400)), 50, 400, SKEW),  # older than lagwatch's first look: no age it can know
        (((NOW - 600, 100), (NOW, 400)), 250, 400, TimeLag(300.0, INTERP)),  # between lagwatch's own points
        (((NOW - 600, 100),), 250, 400, TimeLag(pytest.approx(300.0), INTERP)),  # newer than them: up to now
        (((NOW, 100),), 100, 100, TimeLag(0.0, EXACT)),  # caught up is caught up, whatever the clocks
        (((NOW, 100),), None, 100, TimeLag.unknown()),  # never committed
    ],
    ids=["no-history", "fresh-start", "older-than-own-points", "between-own-points", "newer-than-own-points",
         "caught-up", "no-commit"],
)
def test_a_partition_with_record_times_ahead_has_a_time_lag_only_where_lagwatchs_own_points_place_it(
    history, committed, log_end, expected
):
    assert timelag.estimate(history, committed, log_end, NOW, skewed=True) == expected


@given(
    times=st.lists(st.floats(NOW - 10_000, NOW), min_size=0, max_size=5),
    offsets=st.lists(st.integers(0, 1000), min_size=5, max_size=5),
    committed=st.integers(0, 1000),
    log_end=st.integers(0, 1000),
    skewed=st.booleans(),
)
def test_exact_means_caught_up_and_nothing_else(times, offsets, committed, log_end, skewed):
    history = timelag.add_points((), zip(sorted(times), sorted(offsets)))
    got = timelag.estimate(history, committed, log_end, NOW, skewed)
    assert (got.quality is EXACT) == (committed >= log_end)


# --- add_points -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "history, points, expected",
    [
        ((), [(30.0, 300), (10.0, 100), (20.0, 200)], ((10.0, 100), (20.0, 200), (30.0, 300))),
        (((10.0, 100),), [(10.0, 100), (20.0, 200)], ((10.0, 100), (20.0, 200))),  # duplicates merge
        (((10.0, 100), (20.0, 200)), [(15.0, 150)], ((10.0, 100), (15.0, 150), (20.0, 200))),
        ((), [], ()),
    ],
    ids=["sorts-by-time", "deduplicates", "merges-into-the-middle", "empty"],
)
def test_add_points_sorts_and_merges(history, points, expected):
    assert timelag.add_points(history, points) == expected


@pytest.mark.parametrize(
    "points, expected",
    [
        # log end smaller at a later time: the older, contradicting point goes
        ([(10.0, 100), (20.0, 500), (30.0, 300)], ((10.0, 100), (30.0, 300))),
        ([(10.0, 900), (20.0, 500), (30.0, 600)], ((20.0, 500), (30.0, 600))),
        ([(10.0, 100), (20.0, 50)], ((20.0, 50),)),
    ],
    ids=["spike", "old-high-point", "everything-before"],
)
def test_add_points_drops_contradicting_points_and_keeps_offsets_monotonic(points, expected):
    result = timelag.add_points((), points)
    assert result == expected
    assert [o for _, o in result] == sorted(o for _, o in result)


@pytest.mark.parametrize(
    "points, expected",
    [
        ([(10.0, 5), (20.0, 5), (30.0, 5), (40.0, 5)], ((10.0, 5), (40.0, 5))),
        ([(0.0, 1), (10.0, 5), (20.0, 5), (30.0, 5), (40.0, 9)], ((0.0, 1), (10.0, 5), (30.0, 5), (40.0, 9))),
        ([(10.0, 5), (20.0, 5)], ((10.0, 5), (20.0, 5))),
    ],
    ids=["all-flat", "flat-in-the-middle", "two-flat-points-kept"],
)
def test_add_points_compacts_flat_runs_to_first_and_last(points, expected):
    assert timelag.add_points((), points) == expected


@pytest.mark.parametrize("max_points", [2, 3, 5, 10], ids=lambda n: f"max-{n}")
def test_add_points_thinning_keeps_first_and_last(max_points):
    points = [(float(t * t), t * 10) for t in range(20)]  # uneven spacing, always rising
    result = timelag.add_points((), points, max_points)
    assert len(result) == max_points
    assert result[0] == points[0] and result[-1] == points[-1]
    assert list(result) == sorted(result)


def test_add_points_thinning_drops_the_point_closest_to_its_predecessor():
    points = [(0.0, 0), (100.0, 10), (101.0, 11), (200.0, 20)]
    assert timelag.add_points((), points, 3) == ((0.0, 0), (100.0, 10), (200.0, 20))


def test_add_points_is_idempotent():
    history = timelag.add_points((), [(10.0, 1), (20.0, 2), (30.0, 2), (40.0, 2)])
    assert timelag.add_points(history, history) == history


# --- needs_probe ---------------------------------------------------------------


@pytest.mark.parametrize(
    "history, committed, log_end, expected",
    [
        ((), 50, 100, True),
        (((NOW, 100),), 50, 100, True),
        (((9000.0, 40), (NOW, 100)), 50, 100, False),
        (((9000.0, 50), (NOW, 100)), 50, 100, False),
        ((), 100, 100, False),
        ((), None, 100, False),
        ((), 50, None, False),
    ],
    ids=["no-history", "older-than-history", "placed", "on-oldest-point", "caught-up", "no-commit", "no-log-end"],
)
def test_needs_probe(history, committed, log_end, expected):
    assert timelag.needs_probe(history, committed, log_end) is expected


# --- refine_probe: bisection over the broker's record times ---------------------------------------------


@pytest.mark.parametrize(
    "history, committed, now, expected",
    [
        (((0.0, 0), (100.0, 50), (1000.0, 60)), [55], 1000.0, 550.0),  # middle of the gap around 55
        (((0.0, 0), (100.0, 50), (1000.0, 60)), [10, 55], 1000.0, 550.0),  # the widest gap first
        (((0.0, 0), (100.0, 50), (100.5, 60)), [55], 1000.0, None),  # already within a second
        (((0.0, 0), (400.0, 50), (405.0, 60), (1000.0, 70)), [55], 1000.0, None),  # within 1% of its age
        (((500.0, 10), (1000.0, 60)), [5], 1000.0, None),  # older than every point: the ladder's job
        (((500.0, 10), (1000.0, 60)), [60], 1000.0, None),  # caught up: nothing to place
        ((), [5], 1000.0, None),
    ],
    ids=["gap", "widest", "narrow", "relative", "older", "caught-up", "empty"],
)
def test_refine_probe_asks_about_the_middle_of_the_widest_gap(history, committed, now, expected):
    assert timelag.refine_probe(history, committed, now) == expected


def test_bisection_converges_on_the_record_time():
    # Record c=37 was produced at t=730; the broker answers "first offset at or after T" exactly.
    produced_at = {offset: 700 + offset - 7 if offset >= 7 else offset * 100 for offset in range(60)}

    def broker(t):
        return next((o for o in range(60) if produced_at[o] >= t), 60)

    history = ((0.0, 0), (1000.0, 60))
    for _ in range(20):
        at = timelag.refine_probe(history, [37], 1000.0)
        if at is None:
            break
        history = timelag.add_points(history, [(at, broker(at))])
    lag = timelag.estimate(history, 37, 60, now=1000.0)
    assert lag.seconds == pytest.approx(1000.0 - produced_at[37], abs=3)


@settings(max_examples=500, deadline=None)
@given(
    steps=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), max_size=40),
    new=st.tuples(st.integers(-5, 10), st.integers(-3, 6)),
    max_points=st.integers(2, 8),
)
def test_adding_one_point_gives_what_adding_it_as_a_list_gives(steps, new, max_points):
    # A history as the daemon builds it (add_points, one scrape point after another), then one more point,
    # newer or not, further or not: the fast path and the general merge agree.
    history, t, offset = (), 0.0, 0
    for dt, d_offset in steps:
        t, offset = t + dt, offset + d_offset
        history = timelag.add_points(history, [(t, offset)], max_points)
    point = (t + new[0], offset + new[1])
    assert timelag.add_point(history, point, max_points) == timelag.add_points(history, [point], max_points)
