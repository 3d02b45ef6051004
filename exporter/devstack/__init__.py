"""A local Kafka broker and Elasticsearch node built from Maven Central artifacts.

Used by the test harness and by `lagwatch demo`; nothing in the daemon's path imports it.
"""

from exporter.devstack.elasticsearch import ElasticsearchNode, ExternalElasticsearch
from exporter.devstack.kafka import ExternalKafka, KafkaBroker
from exporter.devstack.versions import ELASTICSEARCH_VERSION, KAFKA_VERSION

__all__ = [
    "ELASTICSEARCH_VERSION",
    "KAFKA_VERSION",
    "ElasticsearchNode",
    "ExternalElasticsearch",
    "ExternalKafka",
    "KafkaBroker",
]
