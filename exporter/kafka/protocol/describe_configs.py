"""DescribeConfigs for topics: the few configuration keys lagwatch reads (retention.ms).

Partial-failure policy: a topic whose result has an error is left out (its settings are unknown), its error
code kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from kafka.protocol.admin import DescribeConfigsRequest

_TOPIC_RESOURCE = 2


class TopicConfigs(NamedTuple):
    configs: dict[str, dict[str, str | None]]
    errors: dict[str, int]  # topic -> error code (TOPIC_AUTHORIZATION_FAILED: DescribeConfigs denied)


@dataclass(frozen=True)
class DescribeTopicConfigs:
    topics: Sequence[str]
    keys: tuple[str, ...] = ("retention.ms",)

    def request(self) -> DescribeConfigsRequest:
        Resource = DescribeConfigsRequest.DescribeConfigsResource
        return DescribeConfigsRequest(
            resources=[
                Resource(resource_type=_TOPIC_RESOURCE, resource_name=t, configuration_keys=list(self.keys))
                for t in self.topics
            ],
            include_synonyms=False,
            include_documentation=False,
        )

    def decode(self, response) -> TopicConfigs:
        """{topic: {key: value}} for the topics that answered without an error, and the others' error codes."""
        answer = TopicConfigs({}, {})
        for result in response.results:
            if result.error_code:
                answer.errors[result.resource_name] = result.error_code
            else:
                answer.configs[result.resource_name] = {entry.name: entry.value for entry in result.configs}
        return answer
