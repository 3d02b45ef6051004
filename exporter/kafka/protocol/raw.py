"""Requests whose answers come back as their bytes, for the decoders that read the hot responses straight
into plain data (metadata, list_groups, offset_fetch, list_offsets) instead of kafka-python's generic objects.

`raw(Request)` is a subclass of a kafka-python request class that encodes and is sent exactly like it; only
the answer differs: a RawAnswer (the version, the body after the response header) instead of a decoded
response object. kafka-python's parser asks the in-flight request's header for the response class; the raw
request hands it one that parses the header as usual and keeps the rest as bytes. A decoder reads the
versions it knows from the bytes and leaves any other to kafka-python (`RawAnswer.decoded()`).

`Written` lets such a request write its own body for the versions it knows (kafka-python's generic encoder
walks the schema for every one of the thousands of entries of a large request), and `bare` makes request entries
without that generic constructor. The readers below follow Kafka's wire format: big-endian integers, flexible
versions' unsigned varints (compact arrays and strings carry length + 1, 0 for null) and tagged fields, which
are skipped.
"""

from __future__ import annotations

import functools
import struct
from typing import Any, NamedTuple


class RawAnswer(NamedTuple):
    version: int
    body: bytes  # the response after its header: throttle time first where the version has one
    response_class: Any  # kafka-python's response class for this version

    def decoded(self) -> Any:
        """kafka-python's own decode of the same bytes."""
        return self.response_class.decode(self.body)


class _Answer:
    """Stands where kafka-python's parser expects a response class."""

    __slots__ = ("response_class", "version")

    def __init__(self, response_class: Any, version: int):
        self.response_class, self.version = response_class, version

    def parse_header(self, buffer):
        return self.response_class.parse_header(buffer)

    def decode(self, buffer) -> RawAnswer:
        return RawAnswer(self.version, buffer.read(), self.response_class)


class _Header:
    """The in-flight request header kafka-python keeps, answering with _Answer; the rest is the real one's."""

    __slots__ = ("_header",)

    def __init__(self, header):
        self._header = header

    def __getattr__(self, name: str):
        return getattr(self._header, name)

    def get_response_class(self):
        header = self._header
        response_class = header.get_response_class()
        return None if response_class is None else _Answer(response_class, header.request_api_version)


@functools.cache
def raw(request_class: type) -> type:
    """A subclass of `request_class` whose answers are RawAnswers (`init=False`: kafka-python's metaclass keeps
    the parent's schema instead of looking one up by the subclass's name)."""

    class Raw(request_class, init=False):
        __slots__ = ()

        @property
        def header(self):
            header = self._header
            return None if header is None else _Header(header)

    Raw.__name__ = Raw.__qualname__ = f"Raw{request_class.__name__}"
    return Raw


class Written:
    """Mixin, first base of a raw request class: `encode` writes the frame and the (flexible) header as
    kafka-python does and the body with `write_body` for the versions `writes` accepts; any other version or
    content goes to kafka-python's own encoder."""

    __slots__ = ()

    def writes(self, version: int) -> bool:
        raise NotImplementedError

    def write_body(self, out: bytearray, version: int) -> None:
        raise NotImplementedError

    def encode(self, version=None, header=False, framed=False):
        if version is not None:
            self.API_VERSION = version
        version = self.API_VERSION
        if not self.writes(version):
            return super().encode(header=header, framed=framed)
        out = bytearray(b"\0\0\0\0" if framed else b"")
        if header:
            out += self.encode_header(flexible=True)
        self.write_body(out, version)
        if framed:
            out[:4] = (len(out) - 4).to_bytes(4, "big")
        return bytes(out)


# kafka-python 3's request entries (data containers) carry these besides their schema's fields.
_CONTAINER_SLOTS = {"tags", "unknown_tags", "_version"}


def bare(entry_class: type, fields: set[str]):
    """A maker of `entry_class` objects with only `_version`, `tags` and `unknown_tags` set (None), at a fraction
    of kafka-python's generic __init__, which walks the schema per object: the caller sets the fields it means,
    the others read their schema defaults as in the constructor's object. None when the class's slots are not
    `fields` plus those three (a kafka-python upgrade changed the containers): the caller uses the constructor."""
    slots = {name for cls in entry_class.__mro__ for name in getattr(cls, "__slots__", ())}
    if slots != fields | _CONTAINER_SLOTS:
        return None
    new = entry_class.__new__

    def make():
        entry = new(entry_class)
        entry._version = entry.tags = entry.unknown_tags = None
        return entry

    return make


# --- readers ----------------------------------------------------------------------------------------

INT16 = struct.Struct(">h")
INT32 = struct.Struct(">i")


def uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it)."""
    byte = buf[pos]
    if byte < 0x80:
        return byte, pos + 1
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def skip_tags(buf: bytes, pos: int) -> int:
    """The position after a tagged-fields section."""
    if buf[pos] == 0:
        return pos + 1
    count, pos = uvarint(buf, pos)
    for _ in range(count):
        _, pos = uvarint(buf, pos)
        size, pos = uvarint(buf, pos)
        pos += size
    return pos


def compact_string(buf: bytes, pos: int) -> tuple[str | None, int]:
    size = buf[pos]
    if 0 < size < 0x80:  # the usual short string: one length byte (length + 1), then its bytes
        end = pos + size
        return buf[pos + 1:end].decode(), end
    size, pos = uvarint(buf, pos)
    if size == 0:
        return None, pos
    end = pos + size - 1
    return buf[pos:end].decode(), end


def skip_compact_string(buf: bytes, pos: int) -> int:
    size = buf[pos]
    if size < 0x80:  # one length byte: null (0), or length + 1
        return pos + size if size else pos + 1
    size, pos = uvarint(buf, pos)
    return pos + size - 1


def compact_length(length: int) -> bytes:
    """A compact array's or string's length as written: length + 1, an unsigned varint."""
    value = length + 1
    if value < 0x80:
        return _SMALL[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL = [bytes((n,)) for n in range(0x80)]
