"""The jobs role (issue 12 §4): one systemd service + timer per scheduled job, rendered by Ansible from the role,
each command one that exists in this repository and parses (a renamed playbook or option fails here)."""

from __future__ import annotations

import configparser
import shlex
import subprocess
import sys

import pytest
import yaml

from helpers import REPO

pytestmark = pytest.mark.integration


def test_every_job_is_a_timer_whose_command_exists(tmp_path):
    playbook = tmp_path / "jobs.yml"
    playbook.write_text(
        yaml.safe_dump([{"name": "jobs", "hosts": "localhost", "gather_facts": False, "roles": [{"role": "jobs"}]}])
    )
    extra = {
        "jobs__unit_dir": str(tmp_path),
        "jobs__repo_dir": str(REPO),
        "jobs__inventory": "inventory/lab",
        "ansible_service_mgr": "none",  # render only: never enable anything on the test machine
        "ansible_python_interpreter": sys.executable,
    }
    result = subprocess.run(
        [str(REPO / ".venv/bin/ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook),
         "-e", yaml.safe_dump(extra, default_flow_style=True)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
        env={"ANSIBLE_ROLES_PATH": str(REPO / "roles"), "PATH": f"{REPO / '.venv/bin'}:/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]

    names = {p.stem for p in tmp_path.glob("*.timer")}
    assert names == {"govmail-lifecycle", "govmail-abuse-scan", "govmail-sla-digest"}
    for name in names:
        timer = configparser.ConfigParser(interpolation=None)
        timer.read(tmp_path / f"{name}.timer")
        assert timer["Timer"]["OnCalendar"] and timer["Timer"]["Persistent"] == "true"
        assert timer["Install"]["WantedBy"] == "timers.target"
        service = configparser.ConfigParser(interpolation=None)
        service.read(tmp_path / f"{name}.service")
        assert service["Service"]["Type"] == "oneshot"
        argv = shlex.split(service["Service"]["ExecStart"])
        program = argv[0]
        assert program.startswith(str(REPO)), argv
        if program.endswith("ansible-playbook"):
            play = argv[argv.index("-i") + 2]
            check = subprocess.run(
                [program, "--syntax-check", "-i", "inventory/lab", play], cwd=REPO, capture_output=True, text=True,
                timeout=120, check=False,
            )  # fmt: skip
            assert check.returncode == 0, f"{name}: {check.stdout}{check.stderr}"
        else:
            from govmail.cli.main import parser

            args = parser().parse_args(argv[1:])
            assert args.command == "sla-digest" and args.to == ["hotrothudientu@khanhhoa.gov.vn"]
