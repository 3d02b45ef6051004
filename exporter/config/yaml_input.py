"""Reading a config file's YAML safely: whatever the bytes, a tree of plain values or one YamlInputError
naming where (a field path, or "(file)" with a line), quickly and in bounded memory.

On top of yaml.safe_load (no Python objects, no code): the text must be UTF-8; nesting is capped (the
composer recurses per level: 100,000 `[` would be a RecursionError); aliases may not expand the document
beyond `MAX_NODES` values (a "billion laughs" file is a few hundred bytes that expand to 10^9 values); and a
key given twice in one mapping is an error naming it, where YAML would silently keep the last one.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_DEPTH = 64  # lagwatch's own options nest 5 deep
MAX_NODES = 200_000  # values after expanding aliases; a large config has a few thousand
_MERGE = "tag:yaml.org,2002:merge"


class YamlInputError(Exception):
    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class _Loader(yaml.SafeLoader):
    """SafeLoader that stops composing beyond MAX_DEPTH levels."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YamlInputError("(file)", f"nested deeper than {MAX_DEPTH} levels at line {mark.line + 1}")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _key_text(node: Node) -> str:
    return node.value if isinstance(node, ScalarNode) else f"<{node.tag.rsplit(':', 1)[-1]}>"


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    key = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else repr(key)
    return f"{parent}.{key}" if parent else key


def _check(node: Node, path: str, sizes: dict[int, int]) -> int:
    """Values under `node` after expanding aliases (memoised per node, so a bomb costs its size in nodes,
    not in expansions); raises on a duplicate key or on too many values."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                size += _check(value_node, path, sizes)
                continue
            key = _key_text(key_node)
            if isinstance(key_node, ScalarNode) and key in first:
                raise YamlInputError(
                    _path(path, key),
                    f"duplicate key {key!r} at line {key_node.start_mark.line + 1} "
                    f"(first at line {first[key]}): YAML would keep only the last one",
                )
            first[key] = key_node.start_mark.line + 1
            size += _check(key_node, path, sizes) + _check(value_node, _path(path, key), sizes)
            if size > MAX_NODES:
                break
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            size += _check(item, _path(path, index), sizes)
            if size > MAX_NODES:
                break
    if size > MAX_NODES:
        raise YamlInputError(
            path or "(top level)",
            f"expands to more than {MAX_NODES} values through YAML aliases (&anchor/*alias): refused",
        )
    sizes[id(node)] = size
    return size


def _reader_error(exc: yaml.reader.ReaderError, text: str) -> YamlInputError:
    line = text[: exc.position].count("\n") + 1
    character = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
    return YamlInputError("(file)", f"not valid YAML at line {line}: control character #x{character:04x} "
                                    "is not allowed in YAML text")


def load_yaml(data: bytes) -> Any:
    """The plain tree of a config file's bytes, or YamlInputError (messages say where in the file)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise YamlInputError(
            "(file)", f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line} cannot be decoded"
        ) from None
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check(node, "", {})
        return loader.construct_document(node)
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise YamlInputError("(file)", f"not valid YAML{where}: {problem}") from None
    except RecursionError:  # beyond MAX_DEPTH something else recursed: still a file problem, not a crash
        raise YamlInputError("(file)", "nested too deeply") from None
    finally:
        loader.dispose()
