"""lagwatch: Kafka consumer-lag exporter for Elasticsearch and Kibana."""

__version__ = "0.1.0"
