"""Minimal textual edits of an account file at the positions the parser gives.

Like ``writer.py``: a round-trip YAML library would re-emit the whole file and a clerk's
comments, quoting and spacing would drift. Each function here returns new text in which
only the bytes of one value, one key line or one list item differ; everything else is kept
byte for byte (CRLF line ends and trailing comments included).
"""

from __future__ import annotations

import datetime as dt
import json

import yaml

from .yamlsource import Source

# The documented order of a person's keys: a new key goes after the last present one before it.
PERSON_ORDER = (
    "name", "title", "unit", "given_name", "address", "status", "reason", "since", "reset", "inactive_reason", "aliases"
)  # fmt: skip
UNIT_ORDER = ("id", "name", "mailbox", "status", "reason", "since", "reset", "units")
ORG_ORDER = ("id", "name", "kind", "owners", "contact", "bodies", "mailbox", "status", "reason", "since", "reset")
BODY_ORDER = ("id", "status", "reason", "since", "reset")


class Raw(str):
    """A value already written as YAML (a flow list or mapping): set_key puts it in as it is."""


def flow(value: object) -> str:
    """A list or mapping of scalars as one-line YAML: ``[du, {id: ubnd}, hdnd]``."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value)


class EditError(ValueError):
    """An edit that cannot be made safely on this file's layout."""


def scalar(value: object) -> str:
    """``value`` as a YAML scalar that reads back as exactly the same string (or date)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    if text and "#" not in text and ": " not in text and text == text.strip():
        try:
            if yaml.safe_load(f"k: {text}") == {"k": text}:
                return text
        except yaml.YAMLError:
            pass
    return json.dumps(text, ensure_ascii=False)


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _after_line(text: str, node: yaml.Node) -> int:
    """Offset just after the line on which ``node`` ends (its trailing comment kept on that line)."""
    end = node.end_mark.index
    if node.end_mark.column == 0 and end > node.start_mark.index:
        return end  # block scalars and block collections end at the start of the next line
    nl = text.find("\n", end)
    return len(text) if nl < 0 else nl + 1


def _pairs(node: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    return {k.value: (k, v) for k, v in node.value}


def _ensure_final_newline(text: str, offset: int) -> tuple[str, int]:
    if offset == len(text) and text and not text.endswith("\n"):
        text += _newline(text)
        offset = len(text)
    return text, offset


def set_key(text: str, node: yaml.MappingNode, key: str, value: object, order=PERSON_ORDER) -> str:
    """Set ``key`` to ``value`` in the mapping ``node``: replace its value, or add the key in documented order."""
    pairs = _pairs(node)
    rendered = value if isinstance(value, Raw) else scalar(value)
    if key in pairs:
        _, vnode = pairs[key]
        if not isinstance(vnode, yaml.ScalarNode):
            raise EditError(f"{key} is not a single value here; edit it by hand")
        if vnode.style in ("|", ">"):
            raise EditError(f"{key} is a block text here; edit it by hand")
        return text[: vnode.start_mark.index] + rendered + text[vnode.end_mark.index :]
    if node.flow_style:
        close = node.end_mark.index - 1
        end = close
        while end > 0 and text[end - 1] in " \t":
            end -= 1
        sep = ", " if node.value else ""
        return text[:end] + f"{sep}{key}: {rendered}" + text[end:]
    if not node.value:
        raise EditError("an empty mapping cannot receive a key here; edit it by hand")
    rank = {k: i for i, k in enumerate(order)}
    mine = rank.get(key, len(order))
    before = [k for k in pairs if rank.get(k, len(order)) <= mine]
    anchor_key = before[-1] if before else None
    if anchor_key is None:  # goes first: before the first key's line
        knode = node.value[0][0]
        offset = _line_start(text, knode.start_mark.index)
        return text[:offset] + " " * knode.start_mark.column + f"{key}: {rendered}" + _newline(text) + text[offset:]
    knode, vnode = pairs[anchor_key]
    offset = _after_line(text, vnode)
    text, offset = _ensure_final_newline(text, offset)
    return text[:offset] + " " * knode.start_mark.column + f"{key}: {rendered}" + _newline(text) + text[offset:]


def delete_key(text: str, node: yaml.MappingNode, key: str) -> str:
    """Remove ``key`` (and its value) from the mapping ``node``; nothing happens when it is absent."""
    items = node.value
    index = next((i for i, (k, _) in enumerate(items) if k.value == key), None)
    if index is None:
        return text
    knode, vnode = items[index]
    if node.flow_style:
        if index > 0:
            start, end = items[index - 1][1].end_mark.index, vnode.end_mark.index
        elif len(items) > 1:
            start, end = knode.start_mark.index, items[1][0].start_mark.index
        else:
            start, end = knode.start_mark.index, vnode.end_mark.index
        return text[:start] + text[end:]
    if len(items) == 1:
        raise EditError(f"removing {key} would leave an empty entry; edit it by hand")
    start = _line_start(text, knode.start_mark.index)
    if text[start : knode.start_mark.index].strip():
        raise EditError(f"{key} shares its line with another key; edit it by hand")
    return text[:start] + text[_after_line(text, vnode) :]


def entry_lines(entry: dict, indent: int, newline: str) -> str:
    """A block-style list item: ``- name: …`` then the other keys aligned under it."""
    lines = []
    for i, (key, value) in enumerate(entry.items()):
        rendered = "[" + ", ".join(scalar(v) for v in value) + "]" if isinstance(value, list) else scalar(value)
        lead = " " * indent + ("- " if i == 0 else "  ")
        lines.append(f"{lead}{key}: {rendered}{newline}")
    return "".join(lines)


def append_item(src: Source, key: str, entry: dict) -> str:
    """Append ``entry`` to the top-level list ``key`` (``people``), creating the list when absent."""
    text = src.text
    newline = _newline(text)
    root = src.nodes.get(())
    pairs = _pairs(root)
    if key not in pairs:
        prefix = "" if not text or text.endswith("\n") else newline
        return text + prefix + f"{key}:{newline}" + entry_lines(entry, 2, newline)
    knode, seq = pairs[key]
    if not isinstance(seq, yaml.SequenceNode):
        raise EditError(f"{key} must be a list")
    if seq.flow_style:
        if seq.value:
            raise EditError(f"{key} is written as a [flow, list]; write it as one entry per line to use this command")
        # `people: []` → a block list under the key
        start = seq.start_mark.index
        line_end = text.find("\n", seq.end_mark.index)
        end = seq.end_mark.index
        rest = text[end:] if line_end < 0 else text[end : line_end + 1]
        if rest.strip():
            raise EditError(f"{key}: [] is followed by other text on its line; edit it by hand")
        tail = text[end:] if line_end < 0 else text[line_end + 1 :]
        head = text[:start].rstrip(" ")
        return head + newline + entry_lines(entry, knode.start_mark.column + 2, newline) + tail
    first = seq.value[0]
    indent = first.start_mark.column - 2
    offset = _after_line(text, seq.value[-1])
    text, offset = _ensure_final_newline(text, offset)
    return text[:offset] + entry_lines(entry, indent, newline) + text[offset:]


def remove_item(src: Source, key: str, index: int) -> str:
    """Remove item ``index`` of the top-level block list ``key`` (used to move an entry to another file)."""
    text = src.text
    seq = src.nodes[(key,)]
    if seq.flow_style:
        raise EditError(f"{key} is written as a [flow, list]; edit it by hand")
    item = seq.value[index]
    start = _line_start(text, item.start_mark.index)
    if index + 1 < len(seq.value):
        end = _line_start(text, seq.value[index + 1].start_mark.index)
    else:
        end = _after_line(text, item)
    return text[:start] + text[end:]
