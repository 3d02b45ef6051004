"""Each group's last known time lag, carried while its time lag is not known (pure).

A group whose offsets cannot be read (its coordinator frozen, a broker down) has no time lag: its documents
say null and `lag.partial`. An alert whose condition is evaluated on those documents alone would resolve
then: lagwatch's own rules hold an unknown value (exporter/evaluator/rules.py), but a Kibana `.es-query`
rule only sees the documents of its window. So group documents carry, while the time lag is not known, the
last one that was (`lagwatch.lag.seconds_last_known`), and the shipped rule matches it too
(exporter/kibana/rule.py): an alert holds through an outage, as the page it raised should.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from exporter.lag.model import GroupLag, GroupTopicLag, TimeLagQuality

# The time lag itself, not a bound of it: caught up, or placed between two known points.
MEASURED = frozenset((TimeLagQuality.EXACT, TimeLagQuality.INTERPOLATED))


def time_lag_known(group: GroupLag | GroupTopicLag) -> bool:
    """Whole and measured: every partition read, and a number that is the time lag, not only a lower bound
    of it (`at_least`, or `unknown` where a part could not be placed): the alert rules' notion of known."""
    return not group.partial and group.lag_seconds_max is not None and group.time_lag_quality in MEASURED


def carry(previous: Mapping[str, float], groups: Iterable[GroupLag], up: bool) -> dict[str, float]:
    """The last known time lag per group after a scrape: this scrape's where it is known, else the one
    carried so far, raised to this scrape's lower bound where it has one (whole, `at_least` or `unknown`: the
    truth is at least that, and the rule may have matched it). A scrape that could not read the cluster at
    all (`up` false) changes nothing; groups a scrape no longer reports are forgotten (deleted, or left out of
    the selection)."""
    if not up:
        return dict(previous)
    carried: dict[str, float] = {}
    for group in groups:
        if time_lag_known(group):
            carried[group.group] = group.lag_seconds_max
            continue
        bound = None if group.partial else group.lag_seconds_max
        known = [v for v in (previous.get(group.group), bound) if v is not None]
        if known:
            carried[group.group] = max(known)
    return carried


def held(group: GroupLag, carried: Mapping[str, float]) -> float | None:
    """What a group document carries in `lagwatch.lag.seconds_last_known`: None while its time lag is known."""
    return None if time_lag_known(group) else carried.get(group.group)
