"""The leader's assignment of shards: balanced, sticky, and cooperative (a moving shard waits a generation)."""

import pytest

from exporter.coordination.assignment import assign

CASES = [
    # (what it proves, owned before, S, assignment)
    ("one member gets every shard", {"a": []}, 4, {"a": [0, 1, 2, 3]}),
    ("nobody owns anything: an even split", {"a": [], "b": [], "c": []}, 6, {"a": [0, 1], "b": [2, 3], "c": [4, 5]}),
    ("the remainder goes to the first members", {"a": [], "b": []}, 5, {"a": [0, 1, 2], "b": [3, 4]}),
    ("a joiner waits a generation for the shards that move to it",
     {"a": [0, 1, 2, 3, 4, 5], "b": []}, 6, {"a": [0, 1, 2], "b": []}),
    ("... and gets them in the next one", {"a": [0, 1, 2], "b": []}, 6, {"a": [0, 1, 2], "b": [3, 4, 5]}),
    ("a leaver's shards go to the others at once", {"a": [0, 1], "c": [4, 5]}, 6, {"a": [0, 1, 2], "c": [3, 4, 5]}),
    ("owners keep what they own", {"a": [5, 3], "b": [0, 4], "c": [1, 2]}, 6, {"a": [3, 5], "b": [0, 4], "c": [1, 2]}),
    ("the member owning most keeps the extra shard",
     {"a": [0], "b": [1, 2, 3, 4]}, 5, {"a": [0], "b": [1, 2, 3]}),
    ("a shard claimed twice stays with one of them", {"a": [0, 1], "b": [1, 2]}, 4, {"a": [0, 1], "b": [2, 3]}),
    ("shards beyond S (the topic shrank) are ignored", {"a": [0, 7, 9]}, 3, {"a": [0, 1, 2]}),
    ("more members than shards", {"a": [], "b": [], "c": []}, 2, {"a": [0], "b": [1], "c": []}),
    ("no members", {}, 6, {}),
]


@pytest.mark.parametrize("owned,count,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_assignment(owned, count, expected):
    assert assign(owned, count) == expected


@pytest.mark.parametrize("owned,count,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_no_shard_has_two_owners_and_none_moves_within_one_generation(owned, count, expected):
    result = assign(owned, count)
    shards = [s for got in result.values() for s in got]
    assert len(shards) == len(set(shards))
    for member, got in result.items():
        for shard in got:
            others = [m for m in owned if m != member and shard in owned[m]]
            assert not others or shard in owned[member], (member, shard, others)


def test_repeated_rebalances_reach_a_balanced_split_in_two_generations():
    owned = {"a": list(range(12)), "b": [], "c": [], "d": []}
    for _ in range(2):
        owned = assign(owned, 12)
    assert sorted(len(s) for s in owned.values()) == [3, 3, 3, 3]
    assert sorted(s for got in owned.values() for s in got) == list(range(12))


def test_the_result_does_not_depend_on_the_order_members_are_listed():
    forward = {"a": [2], "b": [0, 1, 3], "c": []}
    backward = dict(reversed(list(forward.items())))
    assert assign(forward, 5) == assign(backward, 5)
