"""YAML files read with a line number for every field, and duplicate keys caught.

PyYAML's composer gives each node its position; we build plain Python data from
the nodes ourselves so that every value keeps the line it came from. Dates become
ISO strings (the files are text; the schema checks their shape).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .problems import Problem, field_name


@dataclass
class Source:
    """One parsed file: its data, the line of every field, and the nodes behind them.

    A Source rebuilt from the file cache (``model/filecache.py``) holds the data and the lines of
    the fields a run needs (paths of up to two parts and list items); the first question about any
    other field, or about the nodes, parses the text again.
    """

    path: str
    text: str
    data: object = None
    lines: dict[tuple, int] = field(default_factory=dict)
    _nodes: dict[tuple, yaml.Node] | None = field(default_factory=dict, repr=False)
    rules: dict | None = field(default=None, repr=False)  # the file's own rule results, from the cache
    cache_slot: tuple | None = field(default=None, repr=False)  # (FileCache, key, entry) to store them

    @property
    def complete(self) -> bool:
        return self._nodes is not None

    @property
    def nodes(self) -> dict[tuple, yaml.Node]:
        if self._nodes is None:
            self._complete()
        return self._nodes

    def _complete(self) -> None:
        full, _ = parse(self.path, self.text)
        self.lines, self._nodes = full.lines, full._nodes

    def line_of(self, path: tuple) -> int:
        """Line of the field at ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        if self._nodes is None and path not in self.lines and not kept_line(path):
            self._complete()
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 1

    def problem(self, path: tuple, message: str) -> Problem:
        return Problem(self.path, self.line_of(path), field_name(path), message)


class _Composer(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Composes nodes (with libyaml when present: large trees load several times faster)."""


_STR = "tag:yaml.org,2002:str"


def _scalar(loader: _Composer, node: yaml.ScalarNode) -> object:
    if node.tag == _STR:
        return node.value  # most values: no constructor needed (several times faster on big trees)
    value = loader.construct_object(node, deep=True)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def kept_line(path: tuple) -> bool:
    """Whether the file cache keeps the line of this field (so a cached Source answers alone)."""
    return len(path) <= 2 or isinstance(path[-1], int)


def _build(loader, src: Source, node: yaml.Node, path: tuple, problems: list[Problem]) -> object:
    src._nodes[path] = node
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(
                    Problem(src.path, key_node.start_mark.line + 1, field_name(path), "keys must be plain words")
                )
                continue
            key = str(_scalar(loader, key_node))
            child = (*path, key)
            line = key_node.start_mark.line + 1
            if key in out:
                problems.append(
                    Problem(src.path, line, field_name(child), f"duplicate key (first on line {src.lines[child]})")
                )
                continue
            src.lines[child] = line
            out[key] = _build(loader, src, value_node, child, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item_node in enumerate(node.value):
            child = (*path, index)
            src.lines[child] = item_node.start_mark.line + 1
            items.append(_build(loader, src, item_node, child, problems))
        return items
    return _scalar(loader, node)


# An account file of a province's largest unit is well under 1 MiB; anything far bigger is not one.
MAX_FILE_BYTES = 4 * 1024 * 1024


def _first_alias(root: yaml.Node) -> yaml.Node | None:
    """The first node reached twice (a YAML alias ``*name``), walking the composed graph once."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            return node
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
    return None


def parse(path: str | Path, text: str | None = None) -> tuple[Source, list[Problem]]:  # noqa: PLR0911 — one return per refusal
    """Parse one file. Problems are syntax errors, duplicate keys, aliases and size; data is None then."""
    path = str(path)
    if text is None:
        try:
            size = Path(path).stat().st_size
            if size > MAX_FILE_BYTES:
                return Source(path, ""), [_too_big(path, size)]
            text = Path(path).read_bytes().decode("utf-8")  # keep CRLF: the writer preserves bytes
        except UnicodeDecodeError as exc:
            return Source(path, ""), [Problem(path, 1, "", f"is not UTF-8 text ({exc.reason} at byte {exc.start})")]
    elif len(text) > MAX_FILE_BYTES:
        return Source(path, ""), [_too_big(path, len(text.encode("utf-8")))]
    src = Source(path, text)
    loader = _Composer(text)
    problems: list[Problem] = []
    try:
        node = loader.get_single_node()
        alias = _first_alias(node) if node is not None else None
        if alias is not None:
            # Aliases let a few hundred bytes expand into gigabytes (a "billion laughs"); files need none.
            line = alias.start_mark.line + 1
            return Source(path, text), [
                Problem(path, line, "", "YAML anchors and aliases (&name, *name) are not allowed")
            ]
        if node is not None:
            src.lines[()] = node.start_mark.line + 1
            src.data = _build(loader, src, node, (), problems)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        message = f"YAML syntax error: {exc.problem or exc.context}"
        if exc.context and exc.context_mark and exc.context_mark.line + 1 != line:
            message += f" ({exc.context} that starts on line {exc.context_mark.line + 1})"
        return Source(path, text), [Problem(path, line, "", message)]
    except yaml.YAMLError as exc:
        return Source(path, text), [Problem(path, 1, "", f"YAML error: {exc}")]
    finally:
        loader.dispose()
    return src, problems


def _too_big(path: str, size: int) -> Problem:
    return Problem(path, 1, "", f"is {size} bytes; an account file may be at most {MAX_FILE_BYTES} bytes")
