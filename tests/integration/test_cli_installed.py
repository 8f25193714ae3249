"""`.venv/bin/govmail` (the installed console script) works from the repository root on the sample tree."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO

pytestmark = pytest.mark.integration
GOVMAIL = str(Path(sys.executable).with_name("govmail"))


def _govmail(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([GOVMAIL, *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


def test_validate_and_allocate_check_pass_on_the_sample():
    assert _govmail("validate").returncode == 0
    result = _govmail("allocate", "--check")
    assert result.returncode == 0, result.stdout
    assert "nothing to write" in result.stdout


def test_list_and_plan_agree():
    listed = json.loads(_govmail("list", "--format", "json").stdout)
    planned = json.loads(_govmail("plan", "--format", "json").stdout)
    live = {a["address"] for a in listed if a["status"] != "revoked"}
    assert {c["address"] for c in planned["changes"]} == live
    assert {"ubndninhphuoc@khanhhoa.gov.vn", "nvhung.skhcn@khanhhoa.gov.vn", "ctys.kh@khanhhoa.gov.vn"} <= live


def test_usage_error_exits_2():
    result = _govmail("plan", "--format", "pdf")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_the_readme_tour(tmp_path):
    """The README's five-minute tour, step by step, on a copy of the sample tree."""
    shutil.copytree(REPO / "accounts", tmp_path / "accounts")
    shutil.copytree(REPO / "data", tmp_path / "data")
    unit_file = tmp_path / "accounts/departments/skhcn.yaml"
    unit_file.write_text(
        unit_file.read_text(encoding="utf-8") + "  - name: Trần Thị Mai\n    title: Chuyên viên\n    unit: ppc\n",
        encoding="utf-8",
    )
    tree = str(tmp_path / "accounts")
    assert _govmail("validate", tree).returncode == 0
    assert _govmail("allocate", tree).returncode == 0
    assert unit_file.read_text(encoding="utf-8").endswith("    unit: ppc\n    address: ttmai@khanhhoa.gov.vn\n")
    plan = _govmail("plan", tree, "--format", "markdown").stdout
    assert "| create | `ttmai@khanhhoa.gov.vn` | person | `skhcn/ppc` | `Trần Thị Mai` | `active` |" in plan
