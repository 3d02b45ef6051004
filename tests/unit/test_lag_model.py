"""The model's types (exporter/lag/model.py) and the evaluator's: frozen records compared by their fields."""

from __future__ import annotations

import gc

import msgspec
import pytest

from exporter.evaluator.status import Code, PartitionWindow, Sample, Status
from exporter.lag.model import (
    Counter,
    GroupLag,
    GroupObservation,
    GroupTopicLag,
    Member,
    NOTHING,
    PartitionLag,
    PartitionOffsets,
    TimeLag,
    TimeLagQuality,
    CatchUp,
)

UNKNOWN = Counter(None, None)
SOME = TimeLag(3.5, TimeLagQuality.INTERPOLATED)
MEMBER = Member("m-1", "app", "/10.0.0.1", (("orders", 0),))

# One value per field, each different from the field's default.
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
def test_model_objects_are_records_compared_by_their_fields(cls):
    values = VALUES[cls]
    assert len(values) == len(msgspec.structs.fields(cls))
    made = cls(*values)
    assert [getattr(made, f.name) for f in msgspec.structs.fields(cls)] == list(values)
    assert made == cls(*values)
    if cls is not GroupObservation:  # its mappings are dicts: not hashable, by design
        assert hash(made) == hash(cls(*values))


@pytest.mark.parametrize("cls", list(VALUES), ids=lambda cls: cls.__name__)
def test_model_objects_are_frozen_and_never_tracked_by_the_cyclic_collector(cls):
    made = cls(*VALUES[cls])
    with pytest.raises(AttributeError):
        setattr(made, msgspec.structs.fields(cls)[0].name, None)
    assert not gc.is_tracked(made)


def test_defaults_are_shared_not_copied_per_object():
    first, second = GroupObservation("g", "Empty"), GroupObservation("h", "Empty")
    assert first.committed is second.committed is NOTHING
    with pytest.raises(TypeError):
        NOTHING[("t", 0)] = 1  # type: ignore[index]
