"""`.venv/bin/govmail` (the installed console script) works from the repository root on the sample tree."""

import json
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
