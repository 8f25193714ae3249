"""The emergency lock (R8.2b) end to end against a real slapd and a real Git repository: the
directory is locked at once, the sessions are cut (doveadm, here a recording stand-in; the lab test
uses the real Dovecot), the commit exists, and the next plan is empty for the account."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from lifecycle_helpers import attrs, sample_repo, set_password, user_bind

from govmail.directory.run import Delivery, converge
from govmail.workflow import requests

pytestmark = pytest.mark.integration
GOVMAIL = str(Path(sys.executable).with_name("govmail"))
WHO = "nvbinh@khanhhoa.gov.vn"


def govmail(ldap, *args):
    env = {**os.environ, "GOVMAIL_LDAP_BIND_DN": ldap["bind_dn"], "GOVMAIL_LDAP_BIND_PW": ldap["bind_pw"]}
    return subprocess.run([GOVMAIL, *args], capture_output=True, text=True, timeout=120, check=False, env=env)


@pytest.fixture
def world(tmp_path, slapd, ldap, age_key):
    repo = sample_repo(tmp_path / "repo")
    converge(str(repo.path / "accounts"), ldap, delivery=Delivery(age_recipients=[age_key[1]], age_dir=str(tmp_path)))
    fake = tmp_path / "doveadm"
    log = tmp_path / "doveadm.log"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n[ "$1" = kick ] && echo "kicked 1 connection"\nexit 0\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return repo, fake, log


def test_lock_takes_effect_at_once_and_git_catches_up(world, slapd, ldap):
    repo, fake, log = world
    password = set_password(slapd, WHO)
    assert user_bind(slapd, WHO, password).bound
    head = repo.git("rev-parse", "HEAD")

    result = govmail(
        ldap, "lock", WHO, "--reason", "compromised", "mật khẩu bị lộ", "--dir", str(repo.path / "accounts"),
        "--ldap", ldap["server_uri"], "--doveadm", str(fake), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])

    # Directory: suspended with the reason, the old password dead, a reset pending.
    entry = attrs(slapd, WHO, "govmailState", "govmailReason", "govmailStateSince", "pwdReset")
    assert entry["govmailState"] == ["suspended"]
    assert entry["govmailReason"] == ["compromised mật khẩu bị lộ"]
    assert entry["pwdReset"] in (["TRUE"], [True])
    assert not user_bind(slapd, WHO, password).bound
    # Sessions: the cache flushed and the account kicked on the mail host.
    calls = log.read_text().splitlines()
    assert calls == [f"auth cache flush {WHO}", f"kick {WHO}"]
    assert report["kicked"] == [WHO]
    # Git: one commit on top, with the trailer, and the file says suspended.
    assert repo.git("rev-parse", "HEAD^") == head
    assert report["commit"] == repo.git("rev-parse", "HEAD")
    body = repo.git("log", "-1", "--format=%B")
    assert body.startswith(f"lock: {WHO} (compromised mật khẩu bị lộ)") and f"Govmail-Lock: {WHO}" in body
    assert (
        repo.git("show", "--stat", "--format=", "HEAD")
        .splitlines()[0]
        .strip()
        .startswith("accounts/departments/skhcn.yaml")
    )
    text = (repo.path / "accounts/departments/skhcn.yaml").read_text(encoding="utf-8")
    assert "status: suspended" in text and "reason: compromised mật khẩu bị lộ" in text
    assert repo.git("status", "--porcelain") == ""
    # The next normal apply keeps the lock: nothing to do for anybody.
    plan = converge(str(repo.path / "accounts"), ldap, check_mode=True)
    assert plan["changes"] == []
    assert password not in result.stdout + result.stderr

    # Unlock goes through the normal requests: restore + reset.
    requests.request_status(repo.path / "accounts", kind="restore", who={"address": WHO})
    requests.request_reset(repo.path / "accounts", who={"address": WHO})
    ops = sorted(c["op"] for c in converge(str(repo.path / "accounts"), ldap, check_mode=True)["changes"])
    assert ops in (["reset", "restore"], ["restore"]), ops


def test_bad_input_writes_nothing(world, slapd, ldap):
    repo, fake, log = world
    head = repo.git("rev-parse", "HEAD")
    for words, message in (
        ("nobody@khanhhoa.gov.vn", "no person has the address nobody@khanhhoa.gov.vn"),
        (WHO + " --reason stolen", "reason must start with one of"),
    ):
        address, *more = words.split()
        result = govmail(
            ldap, "lock", address, *more, "--dir", str(repo.path / "accounts"), "--ldap", ldap["server_uri"],
            "--doveadm", str(fake),
        )  # fmt: skip
        assert result.returncode == 1
        assert message in result.stderr and "nothing was written" in result.stderr
    assert repo.git("rev-parse", "HEAD") == head and repo.git("status", "--porcelain") == ""
    assert attrs(slapd, WHO, "govmailState")["govmailState"] == ["active"]
    assert not log.exists()


def test_the_playbook_locks_kicks_and_commits(world, slapd, ldap, tmp_path):
    from helpers import REPO, local_inventory, spy_cli

    repo, fake, log = world
    spy, seen = spy_cli(tmp_path, GOVMAIL)
    path = local_inventory(tmp_path / "inventory.yml", ldap, govmail_doveadm=str(fake))
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(path),
        str(REPO / "playbooks/emergency-lock.yml"), "-e", f"address={WHO}",
        "-e", f"accounts_dir={repo.path / 'accounts'}", "-e", f"govmail_cli={spy}",
        "-e", "reason='compromised gửi thư rác'", "-vvv",
    ]  # fmt: skip
    run = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert attrs(slapd, WHO, "govmailState")["govmailState"] == ["suspended"]
    assert f"kick {WHO}" in log.read_text()
    assert repo.git("log", "-1", "--format=%s") == f"lock: {WHO} (compromised gửi thư rác)"
    # The provisioner password is in no argv or environment of the command (ps), nor in -vvv output.
    assert "--bind-pw-file" in seen.read_text() and ldap["bind_pw"] not in seen.read_text()
    assert ldap["bind_pw"] not in run.stdout + run.stderr
    assert converge(str(repo.path / "accounts"), ldap, check_mode=True)["changes"] == []

    missing = subprocess.run(
        [*cmd[:4], "-e", f"govmail_cli={GOVMAIL}"], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    assert missing.returncode != 0 and "give the account" in missing.stdout
