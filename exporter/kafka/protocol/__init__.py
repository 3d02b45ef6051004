"""The Kafka protocol as lagwatch uses it: one module per request family (metadata, list_groups,
find_coordinator, describe_groups, offset_fetch, list_offsets, describe_configs), each a plain request
description that builds its kafka-python request and decodes the response to plain data.

This module defines the messages kafka-python 3 does not have, from Kafka's own message schemas (the JSON
files beside it, which kafka-python's schema loader reads), used through KafkaWire like its own."""

from __future__ import annotations

from kafka.protocol.api_message import ApiMessage

_HERE = __name__


class ConsumerGroupDescribeRequest(ApiMessage, load_json=_HERE):
    pass


class ConsumerGroupDescribeResponse(ApiMessage, load_json=_HERE):
    pass


__all__ = ["ConsumerGroupDescribeRequest", "ConsumerGroupDescribeResponse"]


class ShareGroupDescribeRequest(ApiMessage, load_json=_HERE):
    pass


class ShareGroupDescribeResponse(ApiMessage, load_json=_HERE):
    pass


class DescribeShareGroupOffsetsRequest(ApiMessage, load_json=_HERE):
    pass


class DescribeShareGroupOffsetsResponse(ApiMessage, load_json=_HERE):
    pass


__all__ += [
    "ShareGroupDescribeRequest", "ShareGroupDescribeResponse",
    "DescribeShareGroupOffsetsRequest", "DescribeShareGroupOffsetsResponse",
]


class StreamsGroupDescribeRequest(ApiMessage, load_json=_HERE):
    pass


class StreamsGroupDescribeResponse(ApiMessage, load_json=_HERE):
    pass


__all__ += ["StreamsGroupDescribeRequest", "StreamsGroupDescribeResponse"]
