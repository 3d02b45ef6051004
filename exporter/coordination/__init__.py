"""Replicas that share the groups through Kafka's own group membership (docs/operations.md "Running several replicas").

Every lagwatch process joins one consumer group of lagwatch's own (`coordination.group_id`) subscribed to one
topic (`coordination.topic`); its S partitions are the S shards, and a process owns the shards whose
partitions the group coordinator assigns it. A monitored group belongs to shard
`exporter.kafka.selection.shard_of(cluster, group, S)`, the stable hash static `--shard I/N` uses.

- ownership.py: which shards this process reports and evaluates alerts for (pure, times passed in).
- records.py: the alert state of one group as one compacted record of the topic (pure).
- store.py: the alert engine's state store in coordinated mode: those records, written by the owner.
- alerting.py: Alerting that adopts the state of a shard it gains and hands over the state of one it loses.
- topic.py: start-up checks of the topic (exists, compacted) and its creation when allowed.
- member.py: the consumer-group member: its own thread, rebalance callbacks, reading a gained shard's state.
- coordinator.py: what the Daemon wires: the pieces above, readiness and metrics.
"""
