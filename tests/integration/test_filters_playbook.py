"""The filter plugins, loaded by a real ansible-playbook through ansible.cfg."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO

pytestmark = pytest.mark.integration
PLAYBOOK = Path(__file__).parent / "playbooks" / "filters.yml"


def _run(playbook: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local", str(playbook)]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_filters_give_the_regulation_examples():
    result = _run(PLAYBOOK)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "localhost                  : ok=1" in result.stdout


def test_a_wrong_expectation_fails_the_play(tmp_path):
    wrong = tmp_path / "wrong.yml"
    wrong.write_text(
        PLAYBOOK.read_text(encoding="utf-8").replace("person_base == 'nvbinh'", "person_base == 'nvbinh2'"),
        encoding="utf-8",
    )
    result = _run(wrong)
    assert result.returncode == 2
    assert "failed=1" in result.stdout


def test_an_invalid_name_is_a_filter_error(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "- name: A mangled name\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: Derive\n      ansible.builtin.debug:\n        msg: \"{{ 'NguyÔn V¨n B×nh' | person_base }}\"\n",
        encoding="utf-8",
    )
    result = _run(bad)
    assert result.returncode == 2
    assert "outside the Vietnamese alphabet" in result.stdout
