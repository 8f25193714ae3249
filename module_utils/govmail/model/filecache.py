"""What parsing and checking produced for each unit file, kept between runs (docs/performance.md).

An entry is found by a SHA-256 over everything its result depends on: the file's bytes and its
path under ``accounts/``, the province file and the reference list of communes it names, and the
source of this package (the engine's code, its schemas and this format). Any change to any of
them is another key, so a stale entry can never be used; old entries are pruned by age.
Entries are JSON (data only: a cache restored by CI can never run code).

Where: ``$GOVMAIL_CACHE_DIR`` if set (``off`` disables the cache), else ``.govmail-cache/``
beside the ``accounts/`` directory. A cache that cannot be read or written is ignored.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import time
from functools import cache
from pathlib import Path

ENV = "GOVMAIL_CACHE_DIR"
FORMAT = "govmail-filecache/1"
MAX_AGE_DAYS = 14


@contextlib.contextmanager
def bulk():
    """No cyclic garbage collection while a province-sized tree is built (it walked every object again
    and again: ~40% of a warm load). Reference counting still frees everything; the state is restored."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@cache
def engine_fingerprint() -> str:
    """The model package's source (rules, schemas, parser…): a changed engine never reads old entries."""
    digest = hashlib.sha256(FORMAT.encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def cache_dir(root: str | Path) -> Path | None:
    configured = os.environ.get(ENV)
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "no") else Path(configured)
    return Path(root).resolve().parent / ".govmail-cache"


class FileCache:
    """Entries under ``<dir>/files/``; ``context`` is what every entry's result also depends on."""

    def __init__(self, directory: Path, context: bytes):
        self.dir = directory / "files"
        self.context = hashlib.sha256(engine_fingerprint().encode() + b"\0" + context).digest()
        self.hits = 0
        self.misses = 0

    @classmethod
    def for_tree(cls, root: str | Path, context: bytes) -> FileCache | None:
        directory = cache_dir(root)
        return cls(directory, context) if directory else None

    def key(self, relative: str, content: bytes) -> str:
        digest = hashlib.sha256(self.context)
        digest.update(relative.encode() + b"\0")
        digest.update(content)
        return digest.hexdigest()

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        try:
            value = json.loads(self._path(key).read_bytes())
        except (OSError, ValueError):
            self.misses += 1
            return None
        if not isinstance(value, dict) or value.get("format") != FORMAT:
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, key: str, value: dict) -> None:
        path = self._path(key)
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({**value, "format": FORMAT}, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)

    def touch(self, key: str) -> None:
        """Mark an entry used (pruning goes by modification time)."""
        with contextlib.suppress(OSError):
            os.utime(self._path(key))

    def prune(self, max_age_days: int = MAX_AGE_DAYS) -> None:
        limit = time.time() - max_age_days * 86400
        with contextlib.suppress(OSError):
            for path in self.dir.glob("*/*.json"):
                with contextlib.suppress(OSError):
                    if path.stat().st_mtime < limit:
                        path.unlink()
