"""A local Kafka broker and Elasticsearch (or OpenSearch) node built from Maven Central artifacts.

Used by the test harness and by `lagwatch demo`; nothing in the daemon's path imports it.
"""

from devstack.elasticsearch import ElasticsearchNode, ExternalElasticsearch
from devstack.kafka import ExternalKafka, KafkaBroker
from devstack.opensearch import ExternalOpenSearch, OpenSearchNode
from devstack.versions import ELASTICSEARCH_VERSION, KAFKA_VERSION, OPENSEARCH_VERSION

__all__ = [
    "ELASTICSEARCH_VERSION",
    "KAFKA_VERSION",
    "ElasticsearchNode",
    "ExternalElasticsearch",
    "ExternalKafka",
    "KafkaBroker",
    "OPENSEARCH_VERSION",
    "OpenSearchNode",
    "ExternalOpenSearch",
]
