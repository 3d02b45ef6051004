"""A local Kafka broker and Elasticsearch node built from Maven Central artifacts.

Used by the test harness and by `lagwatch demo`; nothing in the daemon's path imports it.
"""

from devstack.elasticsearch import ElasticsearchNode, ExternalElasticsearch
from devstack.kafka import ExternalKafka, KafkaBroker
from devstack.versions import ELASTICSEARCH_VERSION, KAFKA_VERSION

__all__ = [
    "ELASTICSEARCH_VERSION",
    "KAFKA_VERSION",
    "ElasticsearchNode",
    "ExternalElasticsearch",
    "ExternalKafka",
    "KafkaBroker",
]
