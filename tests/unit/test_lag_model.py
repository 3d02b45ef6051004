"""The model's types made in the hot loops: `cls.fast(...)` (exporter/lag/model.py quick_init) makes the same
frozen object as `cls(...)`."""

from __future__ import annotations

import dataclasses

import pytest

from exporter.evaluator.status import Code, PartitionWindow, Sample, Status
from exporter.lag.model import (
    Counter,
    GroupLag,
    GroupObservation,
    GroupTopicLag,
    Member,
    PartitionLag,
    PartitionOffsets,
    TimeLag,
    TimeLagQuality,
    CatchUp,
)

UNKNOWN = Counter(None, None)
SOME = TimeLag(3.5, TimeLagQuality.INTERPOLATED)
MEMBER = Member("m-1", "app", "/10.0.0.1", (("orders", 0),))

# One value per field, each different from the field's default, so a field the twin drops or swaps shows.
VALUES = {
    PartitionOffsets: ("orders", 3, 120, 7, 2, "LeaderNotAvailableError"),
    GroupObservation: ("billing", "Stable", "consumer", "classic", 1, (MEMBER,), {("orders", 0): 5}, "boom",
                       False, (("orders", 1),), 9, {("orders", 0): 2}),
    TimeLag: (3.5, TimeLagQuality.AT_LEAST),
    Counter: (12, 0.1),
    PartitionLag: ("c", "billing", "orders", 3, 100, 120, 7, 20, 40, True, SOME, Counter(5, 0.05), Counter(2, 0.02),
                   MEMBER, "boom", True, 4),
    GroupTopicLag: ("c", "billing", "orders", 4, 1, 3, 1, 20, 9, 40, 3.5, TimeLagQuality.AT_LEAST, Counter(5, 0.05),
                    Counter(2, 0.02), 86_400_000, 0.25, Counter(4, 0.04), 1, 18, 2),
    GroupLag: ("c", "billing", "Stable", "consumer", 2, 1, 4, 1, 20, 9, 40, 3.5, TimeLagQuality.AT_LEAST,
               Counter(5, 0.05), Counter(2, 0.02), CatchUp.CATCHING_UP, 60.0, 0.25, "boom", 7, 1, 18, 2),
    Sample: (1000.0, 5, 9, False, "boom"),
    Status: (Code.WARN, "lag_growing", False),
    PartitionWindow: ((Sample(1000.0, 5, 9),), 990.0, 5),
}


@pytest.mark.parametrize("cls", list(VALUES), ids=lambda cls: cls.__name__)
def test_fast_makes_the_same_object_as_the_constructor(cls):
    values = VALUES[cls]
    assert len(values) == len(dataclasses.fields(cls))
    made, fast = cls(*values), cls.fast(*values)
    assert type(fast) is cls
    assert fast == made
    assert [getattr(fast, f.name) for f in dataclasses.fields(cls)] == list(values)
    if cls is not GroupObservation:  # its mappings are dicts: not hashable, by design
        assert hash(fast) == hash(made)


@pytest.mark.parametrize("cls", list(VALUES), ids=lambda cls: cls.__name__)
def test_fast_objects_are_frozen(cls):
    fast = cls.fast(*VALUES[cls])
    name = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(fast, name, None)


def test_fast_takes_the_same_defaults_and_keywords_as_the_constructor():
    assert PartitionLag.fast("c", "g", "t", 0, None, 5, 0, None, None, False, SOME, UNKNOWN, UNKNOWN) == PartitionLag(
        "c", "g", "t", 0, None, 5, 0, None, None, False, SOME, UNKNOWN, UNKNOWN
    )
    assert GroupObservation.fast("g", "Empty", committed={("t", 0): 1}) == GroupObservation(
        "g", "Empty", committed={("t", 0): 1}
    )
    with pytest.raises(TypeError):
        Counter.fast(1)  # a missing field is an error, as with the constructor
