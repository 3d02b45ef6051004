"""Kept importable for exporter/config and exporter/coordination: sharding lives in exporter/kafka/selection.py."""

from exporter.kafka.selection import owns, parse_shard, shard_of

__all__ = ["owns", "parse_shard", "shard_of"]
