"""Writing allocated addresses into the account files without disturbing anything else.

A round-trip YAML library re-emits the whole file; a clerk's comments, quoting and
spacing would drift. Instead we insert one ``address:`` line (or, in a flow mapping,
one ``, address: …`` item) at a position the parser tells us, and leave every other
byte alone.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from .orgs import Org, Person
from .yamlsource import parse

# Keys that come before ``address`` in the documented order; the address goes after the last present.
_BEFORE_ADDRESS = ("name", "title", "unit", "given_name")


def _line_starts(text: str) -> list[int]:
    starts, pos = [0], 0
    for line in text.splitlines(keepends=True):
        pos += len(line)
        starts.append(pos)
    return starts


def _insertion(text: str, node: yaml.MappingNode, address: str) -> tuple[int, str]:
    """(offset, text to insert) that adds ``address`` to the person mapping ``node``."""
    if node.flow_style:
        close = node.end_mark.index - 1  # the "}"
        end = close
        while end > 0 and text[end - 1] in " \t":
            end -= 1
        sep = ", " if node.value else ""
        return end, f"{sep}address: {address}"
    pairs = {k.value: (k, v) for k, v in node.value}
    key, value = next(pairs[k] for k in reversed(_BEFORE_ADDRESS) if k in pairs)
    # After the whole line on which that value ends (keeps a trailing comment where it is).
    last_line = value.end_mark.line if value.end_mark.column > 0 else value.end_mark.line - 1
    starts = _line_starts(text)
    newline = "\r\n" if "\r\n" in text else "\n"
    if last_line + 1 >= len(starts):
        offset = len(text)
        prefix = "" if text.endswith("\n") else newline
    else:
        offset, prefix = starts[last_line + 1], ""
        if offset == len(text) and not text.endswith("\n"):
            prefix = newline
    return offset, f"{prefix}{' ' * key.start_mark.column}address: {address}{newline}"


def plan_edits(assigned: list[tuple[Org, Person, str]]) -> dict[str, str]:
    """New text for every file that receives addresses."""
    by_file: dict[str, list[tuple[int, str]]] = {}
    texts: dict[str, str] = {}
    for org, person, address in assigned:
        src = org.source
        texts[src.path] = src.text
        by_file.setdefault(src.path, []).append(_insertion(src.text, src.nodes[person.fpath], address))
    out = {}
    for path, inserts in by_file.items():
        text = texts[path]
        for offset, piece in sorted(inserts, reverse=True):
            text = text[:offset] + piece + text[offset:]
        out[path] = text
    return out


def write_atomically(path: str, text: str) -> None:
    """Replace the file in one step so a crash never leaves half a file."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, target.stat().st_mode & 0o7777)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_allocations(assigned: list[tuple[Org, Person, str]]) -> list[str]:
    """Write every allocated address; each new text is re-parsed and checked before any file is replaced."""
    edits = plan_edits(assigned)
    parsed = {path: parse(path, text) for path, text in edits.items()}
    for org, person, address in assigned:
        src, problems = parsed[org.source.path]
        got = src.data["people"][person.fpath[1]].get("address") if not problems else None
        if got != address:
            raise RuntimeError(f"{org.source.path}: inserting {address} did not round-trip; nothing was written")
    for path, text in edits.items():
        write_atomically(path, text)
    return sorted(edits)
