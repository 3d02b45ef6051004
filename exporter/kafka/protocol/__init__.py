"""Kafka protocol messages kafka-python 3 does not have, defined from Kafka's own message schemas (the JSON
files beside this module, which kafka-python's schema loader reads), used through KafkaWire like its own."""

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
