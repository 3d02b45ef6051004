"""bench/peer_run.py reads a peer's /metrics: rows, groups and lag of the estate's groups only."""

from bench import peer_run, peers

BODY = """# HELP kminion_kafka_consumer_group_topic_partition_lag Lag
kminion_kafka_consumer_group_topic_partition_lag{group_id="bench-g000001",partition_id="0",topic_name="t"} 5
kminion_kafka_consumer_group_topic_partition_lag{group_id="bench-g000001",partition_id="1",topic_name="t"} 0
kminion_kafka_consumer_group_topic_partition_lag{group_id="bench-g000002",partition_id="0",topic_name="t"} 7
kminion_kafka_consumer_group_topic_partition_lag{group_id="benchmark-x",partition_id="0",topic_name="t"} 100
kminion_kafka_consumer_group_topic_partition_lag{group_id="other",partition_id="0",topic_name="t"} 100
kminion_kafka_consumer_group_topic_lag{group_id="bench-g000001",topic_name="t"} 5
"""


def test_lag_rows_and_groups_of_the_estate_only():
    assert peer_run.parse_lag(BODY, peers.PEERS["kminion"], "bench") == (3, 2, 12)


def test_a_negative_value_is_a_row_without_lag():
    body = 'kafka_consumergroup_lag{consumergroup="bench-g1",partition="0",topic="t"} -1\n' \
           'kafka_consumergroup_lag{consumergroup="bench-g1",partition="1",topic="t"} 4\n'
    assert peer_run.parse_lag(body, peers.PEERS["kafka_exporter"], "bench") == (1, 1, 4)


def test_go_install_names_the_binary_after_the_module():
    assert [peers.PEERS[n].installed_binary for n in ("kminion", "kafka_exporter", "burrow")] == [
        "kminion", "kafka_exporter", "Burrow"]
