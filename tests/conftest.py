"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import PROVINCE, write_tree


@pytest.fixture(autouse=True, scope="session")
def _file_cache(tmp_path_factory):
    """One file cache for the whole run, outside the trees the tests compare byte for byte.

    Every test that loads a tree goes through it, so a wrong cache hit would fail their assertions.
    """
    mp = pytest.MonkeyPatch()
    mp.setenv("GOVMAIL_CACHE_DIR", str(tmp_path_factory.mktemp("govmail-cache")))
    yield
    mp.undo()


@pytest.fixture
def tree_dir(tmp_path):
    """A function writing a tree into a fresh directory and returning its path."""

    def make(files: dict[str, str], province: str | None = PROVINCE) -> Path:
        return write_tree(tmp_path / "accounts", files, province)

    return make
