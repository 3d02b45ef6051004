"""Pinned versions of the services the local stack runs (override with env vars)."""

import os

# Kafka 4.x is what new clusters run; kafka-python 3.0.x negotiates API versions with it (checked by the
# harness tests). Override with LAGWATCH_KAFKA_VERSION to test another broker release.
KAFKA_VERSION = os.environ.get("LAGWATCH_KAFKA_VERSION", "4.1.1")
# The client major must match the server major (elasticsearch-py checks the product header);
# 8.19 is the last 8.x line and runs on this machine's JDK 17.
ELASTICSEARCH_VERSION = os.environ.get("LAGWATCH_ES_VERSION", "8.19.21")
LOG4J_VERSION = "2.24.3"
