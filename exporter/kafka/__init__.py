"""Kafka I/O: admin connections, the batched wire, the protocol families that decode responses to plain data,
and the collector that plans a scrape and turns what it read into a ClusterSnapshot."""
