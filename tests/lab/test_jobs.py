"""The scheduled jobs on the lab (issue 12 §4, docs/operations.md): every timer of the schedule exists and is
enabled under systemd (PID 1), a job started by systemd succeeds, and the hourly abuse scan's playbook reads rspamd's
history on the mail host and flags the account that sent malware."""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
from email.message import EmailMessage

import pytest

from .conftest import CONTAINER, ROOT, Lab, in_lab

# The schedule of docs/operations.md: unit → a word its command must contain.
TIMERS = {
    "govmail-backup": "/usr/local/sbin/govmail-backup run",
    "govmail-lifecycle": "playbooks/lifecycle.yml",
    "govmail-abuse-scan": "playbooks/abuse-scan.yml",
    "govmail-sla-digest": "sla-digest",
}
EICAR = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def test_every_scheduled_job_has_an_enabled_timer() -> None:
    assert in_lab("cat", "/proc/1/comm").stdout.strip() == "systemd"
    listed = in_lab("systemctl", "list-timers", "--all", "--no-pager").stdout
    for unit, command in TIMERS.items():
        service = in_lab("systemctl", "cat", f"{unit}.service").stdout
        exec_start = next(line for line in service.splitlines() if line.startswith("ExecStart="))
        assert command in exec_start, exec_start
        timer = in_lab("systemctl", "cat", f"{unit}.timer").stdout
        assert "OnCalendar=" in timer and "Persistent=true" in timer, timer
        assert in_lab("systemctl", "is-enabled", f"{unit}.timer").stdout.strip() == "enabled", unit
        assert f"{unit}.timer" in listed, listed
    # log rotation runs from Debian's own timer
    assert in_lab("systemctl", "is-enabled", "logrotate.timer").stdout.strip() == "enabled"


def test_the_backup_job_started_by_systemd_succeeds() -> None:
    before = json.loads(in_lab("cat", "/var/lib/govmail/backup-status.json", check=False).stdout or "{}")
    run = in_lab("systemctl", "start", "govmail-backup.service", check=False)  # a oneshot: returns when done
    shown = in_lab("systemctl", "show", "-p", "Result", "-p", "ExecMainStatus", "govmail-backup.service").stdout
    assert run.returncode == 0, run.stderr + in_lab("journalctl", "-u", "govmail-backup", "-n", "30").stdout
    assert "Result=success" in shown and "ExecMainStatus=0" in shown, shown
    after = json.loads(in_lab("cat", "/var/lib/govmail/backup-status.json").stdout)
    assert after["last_success"] != before.get("last_success")
    assert not after.get("last_error")


def test_an_operations_job_on_a_host_without_the_clone_is_skipped_not_failed() -> None:
    """The lab container carries the operations timers but no clone of the repository: when a timer
    fires, its job is skipped by its condition, so no unit is left failed."""
    in_lab("systemctl", "reset-failed", "govmail-sla-digest.service", check=False)
    run = in_lab("systemctl", "start", "govmail-sla-digest.service", check=False)
    shown = in_lab("systemctl", "show", "-p", "ConditionResult", "-p", "ActiveState", "govmail-sla-digest.service")
    assert run.returncode == 0, run.stderr
    assert "ConditionResult=no" in shown.stdout and "ActiveState=failed" not in shown.stdout, shown.stdout


@pytest.fixture
def sender(make_account):
    return make_account(), make_account()


def test_the_abuse_scan_job_reads_rspamds_history_and_flags_the_sender(lab: Lab, sender) -> None:
    """The timer's command (playbooks/abuse-scan.yml) with the lab's inventory: it fetches the history from rspamd's
    controller on the mail host and fails, naming the account that just sent malware; the bystander is not named."""
    account, bystander = sender
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = account.mail, bystander.mail, "eicar out"
    msg.set_content("Tài liệu đính kèm.\n")
    msg.add_attachment(EICAR.encode(), maintype="application", subtype="octet-stream", filename="baocao.com")
    with lab.submission() as smtp, pytest.raises(smtplib.SMTPDataError):
        smtp.login(account.mail, account.password)
        smtp.send_message(msg)
    env = dict(os.environ, GOVMAIL_LAB_CONTAINER=CONTAINER, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    run = subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), "-i", "inventory/lab", "playbooks/abuse-scan.yml"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    print(run.stdout[-3000:], run.stderr[-2000:])
    assert run.returncode != 0  # flagged accounts fail the unit, so the operator sees it
    assert f"FLAG {account.mail}: malware" in run.stdout
    assert f"FLAG {bystander.mail}" not in run.stdout
    fetched = json.loads((ROOT / "var/ops/rspamd/govmail-lab.json").read_text())
    rows = fetched["rows"] if isinstance(fetched, dict) else fetched
    assert any(row.get("user") == account.mail for row in rows), "no row of the sender in the fetched history"
