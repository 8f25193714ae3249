"""Recorded forge API answers (tests/fixtures/forge/) and a transport that serves them.

The fixtures are JSON as GitHub's and GitLab's APIs write it, with ``@NAME@`` placeholders for the
commit ids of the repository a test builds. ``Recorded`` stands in for the network: it answers
each ``METHOD /path`` it was given, 404 for anything else, and keeps every call it saw.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "forge"
RAW = {"NUMBER", "COMMITS", "SQUASH", "MERGE_OR_NULL", "SQUASH_OR_NULL"}


def fixture(name: str, **values) -> object:
    """The fixture ``name`` (e.g. ``github/pull.json``) with its placeholders filled in."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    for key, value in values.items():
        if key == "COMMIT_LIST":
            text = text.replace(f"@{key}@", ", ".join(json.dumps(v, ensure_ascii=False) for v in value))
        elif key in RAW:
            text = text.replace(f"@{key}@", json.dumps(value))
        else:
            text = text.replace(f"@{key}@", str(value))
    left = re.findall(r"@[A-Z_]+@", text)
    assert not left, f"{name}: placeholders not filled: {sorted(set(left))}"
    return json.loads(text)


class Recorded:
    """A transport for ``forge.Api``: recorded answers by ``METHOD /path?query`` (per_page ignored)."""

    def __init__(self, routes: dict[str, object] | None = None):
        self.routes: dict[str, tuple[int, object, dict]] = {}
        self.calls: list[tuple[str, str, dict, bytes | None]] = []
        for key, value in (routes or {}).items():
            self.add(key, value)

    def add(self, key: str, body: object, status: int = 200, headers: dict | None = None) -> None:
        self.routes[key] = (status, body, headers or {})

    @staticmethod
    def key(method: str, url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "per_page"]
        path = parts.path
        for prefix in ("/api/v4",):
            if path.startswith(prefix):
                path = path[len(prefix) :]
        return f"{method} {path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")

    def __call__(self, method: str, url: str, headers: dict, body: bytes | None) -> tuple[int, dict, bytes]:
        self.calls.append((method, url, headers, body))
        found = self.routes.get(self.key(method, url))
        if found is None:
            return 404, {}, b'{"message": "Not Found"}'
        status, data, extra = found
        return status, extra, json.dumps(data, ensure_ascii=False).encode("utf-8")
