"""Groups split across shards (exporter/kafka/selection.py): every group has exactly one owner, the same in every
process; the --shard text is parsed by exporter/config."""

import subprocess
import sys

import pytest

from exporter.config import parse_shard
from exporter.kafka.selection import owns, shard_of

GROUPS = [f"group-{i}" for i in range(2000)]


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_every_group_belongs_to_exactly_one_shard(count):
    for group in GROUPS:
        owners = [i for i in range(count) if owns("prod", group, (i, count))]
        assert len(owners) == 1


def test_shards_are_roughly_even():
    sizes = [sum(1 for g in GROUPS if shard_of("prod", g, 4) == i) for i in range(4)]
    assert min(sizes) > 400 and max(sizes) < 600, sizes


def test_the_owner_does_not_depend_on_the_process():
    # Python's hash() is salted per process; the shard must not be.
    code = "from exporter.kafka.selection import shard_of; print([shard_of('prod', f'group-{i}', 5) for i in range(50)])"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout for _ in range(2)}
    assert runs == {str([shard_of("prod", f"group-{i}", 5) for i in range(50)]) + "\n"}


@pytest.mark.parametrize("text, expected", [("0/1", (0, 1)), ("2/3", (2, 3)), (" 1/2 ", (1, 2))])
def test_shard_text_parses(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["3/3", "1/0", "-1/2", "a/b", "1", "1/2/3", ""])
def test_bad_shard_text_is_rejected(text):
    with pytest.raises(ValueError):
        parse_shard(text)
