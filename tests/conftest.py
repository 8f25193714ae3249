"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import PROVINCE, write_tree


@pytest.fixture
def tree_dir(tmp_path):
    """A function writing a tree into a fresh directory and returning its path."""

    def make(files: dict[str, str], province: str | None = PROVINCE) -> Path:
        return write_tree(tmp_path / "accounts", files, province)

    return make
