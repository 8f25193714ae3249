"""`make lint` reads every module's and filter's page with ansible-doc (issue 11 §6): a DOCUMENTATION block
that is not valid YAML, or a filter without its doc file, fails it."""

from __future__ import annotations

import shutil
import subprocess
import sys

from helpers import REPO

DOC = REPO / ".venv" / "bin" / "ansible-doc"


def _copy(tmp_path):
    for folder in ("library", "filter_plugins", "bin"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    (tmp_path / "module_utils").symlink_to(REPO / "module_utils")
    return tmp_path


def _check(root):
    return subprocess.run(
        [sys.executable, str(root / "bin" / "check-plugin-docs"), str(DOC)], capture_output=True, text=True, check=False
    )


def test_every_module_and_filter_page_reads(tmp_path):
    proc = _check(_copy(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "4 module(s) and 8 filter(s)" in proc.stdout


def test_a_documentation_block_that_is_not_yaml_fails(tmp_path):
    root = _copy(tmp_path)
    module = root / "library" / "govmail_mailbox.py"
    # the very mistake of issue 11: "key: value" inside a plain scalar
    module.write_text(
        module.read_text(encoding="utf-8").replace("(R8.2d; nothing", "(R8.2d: nothing"), encoding="utf-8"
    )
    proc = _check(root)
    assert proc.returncode == 1
    assert "module govmail_mailbox: ansible-doc cannot read its documentation" in proc.stderr


def test_a_filter_without_its_doc_file_fails(tmp_path):
    root = _copy(tmp_path)
    (root / "filter_plugins" / "unit_address.yml").unlink()
    proc = _check(root)
    assert proc.returncode == 1 and "filter unit_address" in proc.stderr
