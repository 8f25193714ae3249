"""The ratelimit role's systemd unit, rendered from the role's template and defaults: its command
starts the service from the engine's file, which answers Postfix's policy protocol, and stops on
SIGTERM (the test machine has no systemd: tests/systemd_unit.py runs the unit's ExecStart=)."""

from __future__ import annotations

import shutil
import socket
import time

import jinja2
import pytest
import systemd_unit
import yaml

from helpers import REPO

pytestmark = pytest.mark.integration
ROLE = REPO / "roles/ratelimit"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_unit_starts_answers_and_stops(tmp_path):
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    port = _port()
    shutil.copy(REPO / "module_utils/govmail/mailhost/ratelimit.py", tmp_path / "ratelimit.py")
    values = {
        **defaults,
        "ansible_managed": "test",
        "ratelimit__listen": f"127.0.0.1:{port}",
        "ratelimit__install_dir": str(tmp_path),
        "ratelimit__log_file": str(tmp_path / "ratelimit.log"),
        "ratelimit__user": "root",
        "ratelimit__max_messages": 1,
    }
    template = (ROLE / "templates/etc/systemd/system/govmail-ratelimit.service.j2").read_text()
    unit = systemd_unit.parse(jinja2.Template(template, trim_blocks=True).render(values))
    assert unit["Service"]["User"] == "root" and unit["Unit"]["Before"] == "postfix.service"
    process = systemd_unit.start(unit)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.05)
        with sock:
            request = b"request=smtpd_access_policy\nsasl_username=a@khanhhoa.gov.vn\nrecipient_count=1\n\n"
            reader = sock.makefile("rb")
            answers = []
            for _ in range(2):
                sock.sendall(request)
                answers.append(reader.readline().decode().strip())
                reader.readline()
        assert answers[0] == "action=DUNNO" and answers[1].startswith("action=450 4.7.1")
        assert process.poll() is None, "the service exited"
        time.sleep(0.2)
        assert "over limit sasl_username=a@khanhhoa.gov.vn" in (tmp_path / "ratelimit.log").read_text()
    finally:
        systemd_unit.stop(process)
