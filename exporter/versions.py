"""The Kafka, Elasticsearch and OpenSearch releases lagwatch is tested against: the version matrix that CI runs
(tests/integration/test_versions.py) and the "Supported versions" table of docs/versions.md. One place, importable by
the production package (`lagwatch check-config` names them); exporter/devstack pins its services from it.
"""

from __future__ import annotations

# The main broker of the test suite (every integration test), then the extra brokers of the matrix. Each is
# the newest patch release of its line on Maven Central when pinned (3.9.2; 4.4.0, no 4.4.1 yet).
KAFKA_MAIN = "4.1.1"

# The oldest Kafka release lagwatch reads (as kafka-python infers it from a broker's ApiVersions answer): older
# brokers are refused, the cluster reported `up: false` with both releases named. Brokers without OffsetFetch
# v8 / FindCoordinator v4 (before 3.0) get one request per group instead of batches. 2.0.1 was checked by hand
# (README: Supported versions); 2.8.2 runs in CI.
KAFKA_OLDEST = (2, 0)
# The Kafka 2.x release CI runs (with ZooKeeper): the matrix's oldest broker.
KAFKA_LEGACY = "2.8.2"
KAFKA_TESTED = (KAFKA_LEGACY, "3.9.2", KAFKA_MAIN, "4.4.0")

# 8.19 is the last 8.x line; 9.5.4 is the newest 9.x integ-test-zip on Maven Central (9.3.0 and 9.4.0 are
# not there). Both with the 8.x Python client: 9.x servers accept its compatibility headers.
ELASTICSEARCH_MAIN = "8.19.21"
ELASTICSEARCH_TESTED = (ELASTICSEARCH_MAIN, "9.5.4")

# OpenSearch (docs/opensearch.md), written over elastic_transport: 2.19.4 is the newest 2.x integ-test-zip on Maven Central
# and runs on Java 17; 3.3.0 needs Java 21+. The OpenSearch tier runs everything on the first, a focused subset
# on the second (tests/integration/test_opensearch_versions.py).
OPENSEARCH_MAIN = "2.19.4"
OPENSEARCH_TESTED = (OPENSEARCH_MAIN, "3.3.0")


def tested_line() -> str:
    """One line for `lagwatch check-config`: the releases CI tests lagwatch against."""
    return (
        f"# tested with Kafka {', '.join(KAFKA_TESTED)}, Elasticsearch {', '.join(ELASTICSEARCH_TESTED)} and "
        f"OpenSearch {', '.join(OPENSEARCH_TESTED)} (docs/versions.md)"
    )
