"""The version matrix, OpenSearch side: a focused subset of the OpenSearch tier runs again, unchanged, against a
node of each other release CI tests (exporter/versions.py: 3.3.0, on a Java 21+ JDK). `os_node`, `os_url`
and `opensearch` are overridden here, so lagwatch's store writes into that node and the tests read it back
with opensearch-py. The main release runs the whole tier in its own modules.

What runs here: setup (the templates 3.x accepts), a partial `_bulk` failure, and every panel's aggregation.
Left to the main release, to keep CI short (these paths send the same requests whatever the release): `once`
and `run` through the CLI, the product refusal, retention, the outage with spool and replay, and credentials."""

from __future__ import annotations

import pytest

from devstack.versions import OPENSEARCH_MATRIX, OPENSEARCH_VERSION
from tests.harness import opensearch_reader, opensearch_store
from tests.integration import test_opensearch, test_opensearch_delivery, test_opensearch_panels

pytestmark = [pytest.mark.integration, pytest.mark.matrix]

EXTRA = [v for v in OPENSEARCH_MATRIX if v != OPENSEARCH_VERSION]


@pytest.fixture(scope="module", params=EXTRA, ids=[f"opensearch-{v}" for v in EXTRA])
def os_node(request, opensearch_of_version):
    return opensearch_of_version(request.param)


@pytest.fixture(scope="module")
def os_url(os_node) -> str:
    return os_node.url


@pytest.fixture(scope="module")
def opensearch(os_url):
    with opensearch_reader(os_url) as client:
        yield client


def test_the_node_is_that_release_and_lagwatch_s_client_talks_to_it(opensearch, os_node, os_url):
    # Guards the matrix itself: the tests below must reach the other release, read and written.
    version = opensearch.info()["version"]
    assert version["distribution"] == "opensearch" and version["number"] in EXTRA == [os_node.version]
    store = opensearch_store(os_url)
    store.check()
    assert store.version == os_node.version
    store.close()


spooling = test_opensearch_delivery.spooling
test_setup_installs_templates_opensearch_accepts_and_a_second_run_converges = (
    test_opensearch.test_setup_installs_templates_opensearch_accepts_and_a_second_run_converges)
test_a_partial_bulk_failure_indexes_the_rest_and_counts_each_refusal_with_its_reason = (
    test_opensearch_delivery.test_a_partial_bulk_failure_indexes_the_rest_and_counts_each_refusal_with_its_reason)

# The aggregation behind every visualization, control and saved search, on real scrapes indexed into the node.
scraped = test_opensearch_panels.scraped
test_the_aggregation_behind_each_visualization_returns_buckets_with_values = (
    test_opensearch_panels.test_the_aggregation_behind_each_visualization_returns_buckets_with_values)
test_total_lag_per_cluster_is_the_mean_total_per_scrape_not_a_sum_over_scrapes = (
    test_opensearch_panels.test_total_lag_per_cluster_is_the_mean_total_per_scrape_not_a_sum_over_scrapes)
test_top_groups_by_lag_are_the_estate_s_groups_at_their_highest_lag = (
    test_opensearch_panels.test_top_groups_by_lag_are_the_estate_s_groups_at_their_highest_lag)
test_the_partitions_table_shows_each_partition_s_latest_offsets_and_lag = (
    test_opensearch_panels.test_the_partitions_table_shows_each_partition_s_latest_offsets_and_lag)
test_every_control_offers_the_estate_s_values = test_opensearch_panels.test_every_control_offers_the_estate_s_values
test_the_alert_events_search_finds_alerts_with_every_column = (
    test_opensearch_panels.test_the_alert_events_search_finds_alerts_with_every_column)
