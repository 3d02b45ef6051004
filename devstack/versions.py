"""Pinned versions of the services the local stack runs (override with env vars)."""

import os

from exporter import versions

# Kafka 4.x is what new clusters run; kafka-python 3.0.x negotiates API versions with it (checked by the
# harness tests). Override with LAGWATCH_KAFKA_VERSION to test another broker release.
KAFKA_VERSION = os.environ.get("LAGWATCH_KAFKA_VERSION", versions.KAFKA_MAIN)
# 8.19 is the last 8.x line and runs on this machine's JDK 17. The 8.x Python client talks to it and, with
# its compatibility headers, to 9.x too; the 9.x client refuses 8.x servers. Override: LAGWATCH_ES_VERSION.
ELASTICSEARCH_VERSION = os.environ.get("LAGWATCH_ES_VERSION", versions.ELASTICSEARCH_MAIN)
# OpenSearch (docs/opensearch.md): 2.19.x runs on this machine's JDK 17; 3.x needs 21+ (the node finds one).
OPENSEARCH_VERSION = os.environ.get("LAGWATCH_OS_VERSION", versions.OPENSEARCH_MAIN)
OPENSEARCH_MATRIX = versions.OPENSEARCH_TESTED
# The version matrix (tests/integration/test_versions.py) starts these besides the main broker and node.
KAFKA_MATRIX = versions.KAFKA_TESTED
ELASTICSEARCH_MATRIX = versions.ELASTICSEARCH_TESTED
LOG4J_VERSION = "2.24.3"
