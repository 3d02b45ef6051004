"""The floor of response decode: OffsetFetch v8/v9 answers read straight from their bytes into plain tuples.

Not lagwatch's decoder (exporter/kafka/protocol/offset_fetch.py reads the same bytes into the snapshot's
committed-offset tables, with topic selection and per-level errors): a reference for what decoding them costs
when nothing but the rows is made, one `(group, topic, partition, committed offset, error code)` tuple per
partition. bench/stages.py keeps the raw OffsetFetch responses of its scrape and times this against lagwatch's
and kafka-python's decode of the same responses; the row counts must match.

Layout (Kafka's OffsetFetchResponse.json, flexible versions): response header v1 (correlation id, tagged
fields), throttle time, then groups[group id, topics[name, partitions[index, committed offset, leader epoch,
metadata, error code, tags], tags], error code, tags], tags. Compact arrays and strings carry length + 1 as an
unsigned varint.
"""

from __future__ import annotations

import struct

from exporter.kafka.protocol.raw import skip_tags as _skip_tags
from exporter.kafka.protocol.raw import uvarint as _uvarint

_PARTITION = struct.Struct(">iqi")
_INT16 = struct.Struct(">h")


def offset_fetch_rows(buf: bytes) -> list[tuple[str, str, int, int, int]]:
    """Every partition row of one OffsetFetch v8/v9 response (header included, size prefix not)."""
    rows = []
    append = rows.append
    unpack_partition, unpack_int16 = _PARTITION.unpack_from, _INT16.unpack_from
    pos = _skip_tags(buf, 4) + 4  # correlation id, header tags, throttle time
    groups, pos = _uvarint(buf, pos)
    for _ in range(groups - 1):
        size, pos = _uvarint(buf, pos)
        group = buf[pos : pos + size - 1].decode()
        pos += size - 1
        topics, pos = _uvarint(buf, pos)
        for _ in range(topics - 1):
            size, pos = _uvarint(buf, pos)
            topic = buf[pos : pos + size - 1].decode()
            pos += size - 1
            partitions, pos = _uvarint(buf, pos)
            for _ in range(partitions - 1):
                partition, offset, _epoch = unpack_partition(buf, pos)
                pos += 16
                size = buf[pos]
                if size < 0x80:
                    pos += 1 + (size - 1 if size else 0)
                else:
                    size, pos = _uvarint(buf, pos)
                    pos += size - 1 if size else 0
                (error,) = unpack_int16(buf, pos)
                pos += 2
                pos = pos + 1 if buf[pos] == 0 else _skip_tags(buf, pos)
                append((group, topic, partition, offset, error))
            pos = _skip_tags(buf, pos)
        pos = _skip_tags(buf, pos + 2)  # group error code, tags
    return rows
