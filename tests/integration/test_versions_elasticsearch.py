"""The version matrix, Elasticsearch side. The indexing, `lagwatch setup` and Kibana-panel aggregation tests
run again, unchanged, against a node of each other Elasticsearch release CI tests (exporter/versions.py):
`es_url` and `es` are overridden here, so they index into and search that node, with the same 8.x Python
client lagwatch ships. The main release runs them in their own modules."""

from __future__ import annotations

import elasticsearch
import pytest
from elasticsearch import Elasticsearch

from devstack.versions import ELASTICSEARCH_MATRIX, ELASTICSEARCH_VERSION
from tests.integration import test_indexing, test_kibana_panels, test_setup

pytestmark = [pytest.mark.integration, pytest.mark.matrix]

EXTRA = [v for v in ELASTICSEARCH_MATRIX if v != ELASTICSEARCH_VERSION]


@pytest.fixture(scope="module", params=EXTRA, ids=[f"es-{v}" for v in EXTRA])
def es_url(request, es_of_version) -> str:
    return es_of_version(request.param).url


@pytest.fixture(scope="module")
def es(es_url):
    client = Elasticsearch(es_url, request_timeout=30)
    yield client
    client.close()


def test_the_node_is_that_release_and_the_8x_client_talks_to_it(es, es_url, es_of_version):
    # Guards the matrix itself: the tests below must reach the other release, through lagwatch's own client.
    (node,) = es.nodes.info()["nodes"].values()
    assert node["version"] in EXTRA and es_of_version(node["version"]).url == es_url
    assert elasticsearch.__versionstr__.startswith("8.")
    assert es.cluster.health()["status"] in ("green", "yellow")


pipeline_for = test_indexing.pipeline_for
test_two_scrapes_index_counts_and_rates_of_a_known_pattern = test_indexing.test_two_scrapes_index_counts_and_rates_of_a_known_pattern
test_indexed_fields_have_the_template_types = test_indexing.test_indexed_fields_have_the_template_types
test_resending_a_bulk_adds_no_documents = test_indexing.test_resending_a_bulk_adds_no_documents
test_granularity_chooses_the_documents_indexed = test_indexing.test_granularity_chooses_the_documents_indexed
test_odd_group_and_topic_names_round_trip_unchanged = test_indexing.test_odd_group_and_topic_names_round_trip_unchanged

# `lagwatch setup`: the templates in the node (the Kibana half talks to the stand-in, whatever the node).
prefix = test_setup.prefix
test_setup_imports_one_multipart_ndjson_into_the_space_and_creates_the_rule = (
    test_setup.test_setup_imports_one_multipart_ndjson_into_the_space_and_creates_the_rule)
test_setup_twice_converges_and_changes_nothing_the_second_time = test_setup.test_setup_twice_converges_and_changes_nothing_the_second_time
test_setup_without_kibana_url_installs_the_templates_and_says_kibana_was_skipped = (
    test_setup.test_setup_without_kibana_url_installs_the_templates_and_says_kibana_was_skipped)

# The aggregation behind every Lens panel, control and saved search, on real scrapes indexed into the node.
scraped = test_kibana_panels.scraped
test_the_aggregation_behind_each_panel_returns_data = test_kibana_panels.test_the_aggregation_behind_each_panel_returns_data
test_total_lag_per_cluster_is_the_mean_total_per_scrape_not_a_sum_over_scrapes = (
    test_kibana_panels.test_total_lag_per_cluster_is_the_mean_total_per_scrape_not_a_sum_over_scrapes)
test_produce_rate_per_topic_is_not_multiplied_by_the_groups_reading_it = (
    test_kibana_panels.test_produce_rate_per_topic_is_not_multiplied_by_the_groups_reading_it)
test_every_dashboard_control_offers_values = test_kibana_panels.test_every_dashboard_control_offers_values
test_the_alert_events_search_finds_alerts_with_every_column = test_kibana_panels.test_the_alert_events_search_finds_alerts_with_every_column
